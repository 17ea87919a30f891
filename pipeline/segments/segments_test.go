package segments

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/evaluation.golden")

func TestAssignGivesSegmentsWithReasons(t *testing.T) {
	rules := Default()
	tests := []struct {
		bio  string
		want []Assignment
	}{
		{"ICU RN. Opinions mine.", []Assignment{{"nurse", `nurse: bio contains "RN"`}}},
		{"Learn, earn, return.", nil}, // "rn" inside words is not RN
		{"Enfermera y madre", []Assignment{{"nurse", `nurse: bio contains "enfermer*"`}}},
		{"Not a doctor. Baltimore, MD.", nil},
		{"Jane Roe, MD. Cardiologist in Baltimore, MD", []Assignment{{"physician", `physician: bio contains "MD"`}}},
		{"Nursing informatics @ a health system. #HealthIT", []Assignment{
			{"nurse", `nurse: bio contains "nurs*"`},
			{"health_it", `health_it: bio contains "informatics"`},
		}},
		{"Official account of Mercy Hospital.", []Assignment{{"provider_org", `provider_org: bio matches /(?i)^(the )?official (account|page|profile|feed)/`}}},
		{"", nil},
	}
	for _, tc := range tests {
		if got := rules.Assign(tc.bio); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Assign(%q) = %v, want %v", tc.bio, got, tc.want)
		}
	}
}

func TestCommunityOverrides(t *testing.T) {
	rules, err := Default().With([]Segment{
		{Name: "nurse", Keywords: []string{"nurse"}},                                          // replaced: RN no longer counts
		{Name: "caregiver", Disabled: true},                                                   // dropped
		{Name: "leadership", Label: "Leaders", Keywords: []string{"#hcldr leader", "leader"}}, // custom
	})
	if err != nil {
		t.Fatal(err)
	}
	got := rules.Assign("RN and team leader. Caregiver to my mum.")
	want := []Assignment{{"leadership", `leadership: bio contains "leader"`}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if rules.Label("leadership") != "Leaders" {
		t.Errorf("label %q", rules.Label("leadership"))
	}
	if _, err := Default().With([]Segment{{Name: "astronaut", Disabled: true}}); err == nil || !strings.Contains(err.Error(), `"astronaut"`) {
		t.Errorf("disabling an unknown segment: %v", err)
	}
	for _, bad := range []Segment{{Name: "Bad Name", Keywords: []string{"x"}}, {Name: "empty"}, {Name: "re", Patterns: []string{"("}}} {
		if err := Check([]Segment{bad}); err == nil {
			t.Errorf("Check(%+v) accepted", bad)
		}
	}
}

type labelled struct {
	Bio      string   `yaml:"bio"`
	Segments []string `yaml:"segments"`
}

// TestDefaultRulesAgainstLabelledBios measures the default rules on the hand-labelled
// bios: each (bio, segment) pair is a true positive, a false positive or a false
// negative. The figures are in testdata/evaluation.golden and in the README; a change
// of rules or labels that moves them must update both (go test -update).
func TestDefaultRulesAgainstLabelledBios(t *testing.T) {
	data, err := os.ReadFile("testdata/bios.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Bios []labelled `yaml:"bios"`
	}
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	if len(f.Bios) < 50 {
		t.Fatalf("%d labelled bios, want at least 50", len(f.Bios))
	}
	rules := Default()
	known := map[string]bool{}
	for _, n := range rules.Names() {
		known[n] = true
	}
	var tp, fp, fn int
	var report strings.Builder
	for _, b := range f.Bios {
		want := map[string]bool{}
		for _, s := range b.Segments {
			if !known[s] {
				t.Fatalf("bio %q: unknown segment %q", b.Bio, s)
			}
			want[s] = true
		}
		got := map[string]bool{}
		for _, a := range rules.Assign(b.Bio) {
			got[a.Segment] = true
		}
		var miss, extra []string
		for s := range want {
			if got[s] {
				tp++
			} else {
				fn++
				miss = append(miss, s)
			}
		}
		for s := range got {
			if !want[s] {
				fp++
				extra = append(extra, s)
			}
		}
		sort.Strings(miss)
		sort.Strings(extra)
		if len(miss)+len(extra) > 0 {
			fmt.Fprintf(&report, "%q\n  missed %v, wrongly given %v\n", b.Bio, miss, extra)
		}
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(tp) / float64(tp+fn)
	summary := fmt.Sprintf("%d bios: %d true positives, %d false positives, %d false negatives: precision %.1f%%, recall %.1f%%",
		len(f.Bios), tp, fp, fn, 100*precision, 100*recall)
	golden := summary + "\n\n" + report.String()
	if *update {
		if err := os.WriteFile("testdata/evaluation.golden", []byte(golden), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/evaluation.golden")
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != golden {
		t.Errorf("evaluation changed (go test -update to accept):\n%s", golden)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), summary) {
		t.Errorf("README.md does not state the measured figures; it should contain:\n%s", summary)
	}
	t.Log(summary)
}

// BenchmarkAssign is one bio through the default rules: the processor pays it once
// per author and batch.
func BenchmarkAssign(b *testing.B) {
	rules := Default()
	bio := "Pediatric oncology nurse turned nurse informaticist. Mom of two. Opinions mine. #NurseInformatics #HITsm"
	for b.Loop() {
		rules.Assign(bio)
	}
}
