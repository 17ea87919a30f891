package chdb

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLibraryPath(t *testing.T) {
	tmp := t.TempDir()
	present := filepath.Join(tmp, "present.so")
	if err := os.WriteFile(present, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(tmp, "cache")
	cached := filepath.Join(cache, "chdb", Version, "libchdb.so")
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	xdg := filepath.Join(tmp, "xdg")

	tests := []struct {
		name    string
		env     map[string]string
		want    string   // path on success
		wantErr []string // substrings of the error
	}{
		{name: "override", env: map[string]string{EnvLibrary: present}, want: present},
		{name: "override missing", env: map[string]string{EnvLibrary: filepath.Join(tmp, "nope.so")},
			wantErr: []string{"nope.so", "not found", EnvLibrary, "make setup", "scripts/fetch-libchdb.sh"}},
		{name: "cache dir", env: map[string]string{"CHATNIGHT_CACHE_DIR": cache}, want: cached},
		{name: "cache dir missing", env: map[string]string{"CHATNIGHT_CACHE_DIR": filepath.Join(tmp, "empty")},
			wantErr: []string{filepath.Join(tmp, "empty", "chdb", Version, "libchdb.so"), "make setup", "scripts/fetch-libchdb.sh", EnvLibrary}},
		{name: "xdg missing", env: map[string]string{"XDG_CACHE_HOME": xdg},
			wantErr: []string{filepath.Join(xdg, "chatnight", "chdb", Version, "libchdb.so"), "make setup"}},
		{name: "home missing", env: map[string]string{"HOME": filepath.Join(tmp, "home")},
			wantErr: []string{filepath.Join(tmp, "home", ".cache", "chatnight", "chdb", Version, "libchdb.so")}},
		{name: "override is a directory", env: map[string]string{EnvLibrary: tmp}, wantErr: []string{"is a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{EnvLibrary, "CHATNIGHT_CACHE_DIR", "XDG_CACHE_HOME"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := LibraryPath()
			if len(tt.wantErr) == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("LibraryPath() = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("LibraryPath() = %q, want an error", got)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestOpenLibraryRejectsBadFiles(t *testing.T) {
	real, err := LibraryPath()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := func(n int64) []byte {
		f, err := os.Open(real)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"empty", write("empty.so", nil), "not a valid ELF"},
		{"text", write("text.so", []byte("<html>404 not found</html>\n")), "not a valid ELF"},
		{"truncated", write("truncated.so", head(4<<20)), "ELF"},
		{"elf header only", write("header.so", head(64)), "not a valid ELF"},
		{"size stamp differs", stamped(t, real, tmp), "fetch script recorded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openLibrary(tt.path)
			if err == nil {
				t.Fatal("openLibrary succeeded on a bad file")
			}
			for _, s := range []string{tt.path, "delete it", "scripts/fetch-libchdb.sh"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// stamped links the real library into dir next to a size stamp that does not match it.
func stamped(t *testing.T, real, dir string) string {
	p := filepath.Join(dir, "stamped", "libchdb.so")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".ok", []byte("12345\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
