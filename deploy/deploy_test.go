// These tests check the compose and Kubernetes files statically, since neither Docker nor a cluster runs here: they parse, name pinned
// images, and call the chatnight binary only with subcommands, flags, environment
// variables and ports it has.
package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// chatnightFlags builds the binary and returns each subcommand's flags.
func chatnightFlags(t *testing.T, subcommands ...string) map[string]map[string]bool {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chatnight")
	build := exec.Command("go", "build", "-o", bin, "../cmd/chatnight")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build chatnight: %v\n%s", err, out)
	}
	flagLine := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
	out := map[string]map[string]bool{}
	for _, sub := range subcommands {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, sub, "--help")
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chatnight %s --help: %v\n%s", sub, err, stderr.String())
		}
		out[sub] = map[string]bool{}
		for _, m := range flagLine.FindAllStringSubmatch(stderr.String(), -1) {
			out[sub][m[1]] = true
		}
		if len(out[sub]) == 0 {
			t.Fatalf("chatnight %s --help lists no flags:\n%s", sub, stderr.String())
		}
	}
	return out
}

// container is what the checks need of a chatnight container.
type container struct {
	where string
	args  []string
	env   []string // CHATNIGHT_* names
}

// checkContainer checks args and env against the binary's flags, and that the port of
// --http-addr is exposed.
func checkContainer(t *testing.T, c container, flags map[string]map[string]bool, exposed func(port string) bool) {
	t.Helper()
	if len(c.args) == 0 {
		t.Errorf("%s: no subcommand", c.where)
		return
	}
	sub := c.args[0]
	known, ok := flags[sub]
	if !ok {
		t.Errorf("%s: subcommand %q is not one the checks know; add it to the list", c.where, sub)
		return
	}
	for i, a := range c.args[1:] {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !known[name] {
			t.Errorf("%s: chatnight %s has no flag --%s", c.where, sub, name)
		}
		if name == "http-addr" {
			if !hasValue && i+2 < len(c.args) {
				value = c.args[i+2]
			}
			_, port, _ := strings.Cut(value, ":")
			if !exposed(port) {
				t.Errorf("%s: --http-addr %s but port %s is not exposed", c.where, value, port)
			}
		}
	}
	for _, env := range c.env {
		name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(env, "CHATNIGHT_"), "_", "-"))
		found := false
		for _, fl := range flags {
			found = found || fl[name]
		}
		if !found {
			t.Errorf("%s: %s matches no flag of any chatnight subcommand", c.where, env)
		}
	}
}

var pinned = regexp.MustCompile(`^[a-z0-9./-]+(:v?[0-9][A-Za-z0-9._-]*)$|^chatnight:dev$`)

var subcommands = []string{"ingest", "process", "serve", "migrate"}

func TestComposeFile(t *testing.T) {
	data, err := os.ReadFile("compose/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       map[string]string `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Ports       []string          `yaml:"ports"`
			Deploy      struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("compose.yaml does not parse: %v", err)
	}
	for _, want := range []string{"nats1", "nats2", "nats3", "keeper", "ch1", "ch2", "grafana", "prometheus", "migrate", "ingest", "process", "serve"} {
		if _, ok := doc.Services[want]; !ok {
			t.Errorf("compose.yaml has no service %s", want)
		}
	}
	flags := chatnightFlags(t, subcommands...)
	built := false
	for name, s := range doc.Services {
		if !pinned.MatchString(s.Image) {
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
		if s.Build != nil {
			built = true
			if _, err := os.Stat(filepath.Join("compose", s.Build["context"], s.Build["dockerfile"])); err != nil {
				t.Errorf("service %s builds from a missing Dockerfile: %v", name, err)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
					t.Errorf("service %s mounts a missing path: %v", name, err)
				}
			}
		}
		if strings.HasPrefix(name, "nats") {
			cmd := strings.Join(s.Command, " ")
			for _, want := range []string{"--js", "--cluster_name chatnight", "--routes"} {
				if !strings.Contains(cmd, want) {
					t.Errorf("service %s: NATS started without %s", name, want)
				}
			}
		}
		if s.Image != "chatnight:dev" {
			continue
		}
		var env []string
		for k := range s.Environment {
			if strings.HasPrefix(k, "CHATNIGHT_") {
				env = append(env, k)
			}
		}
		ports := s.Ports
		checkContainer(t, container{where: "compose service " + name, args: s.Command, env: env}, flags, func(port string) bool {
			if port == "9464" {
				return true // ops port, scraped inside the compose network
			}
			for _, p := range ports {
				if strings.HasSuffix(p, ":"+port) {
					return true
				}
			}
			return false
		})
	}
	if !built {
		t.Error("no service builds the chatnight image")
	}
	if doc.Services["process"].Deploy.Replicas < 2 {
		t.Error("process should run several replicas")
	}
	grafana := strings.Join(doc.Services["grafana"].Volumes, " ")
	if !strings.Contains(grafana, "../grafana/provisioning:") || !strings.Contains(grafana, "../grafana/dashboards:") {
		t.Errorf("grafana does not mount deploy/grafana: %s", grafana)
	}
}

func TestKubernetesManifests(t *testing.T) {
	data, err := os.ReadFile("kubernetes/chatnight.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type containerSpec struct {
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		EnvFrom        []map[string]map[string]string `yaml:"envFrom"`
		ReadinessProbe map[string]any                 `yaml:"readinessProbe"`
		LivenessProbe  map[string]any                 `yaml:"livenessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
		} `yaml:"resources"`
	}
	type object struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
		Spec       struct {
			ScaleTargetRef struct {
				Name string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			Template struct {
				Spec struct {
					Containers []containerSpec `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	flags := chatnightFlags(t, subcommands...)
	kinds := map[string][]string{}
	var env []string
	var containers []struct {
		owner string
		c     containerSpec
	}
	for i, part := range strings.Split(string(data), "\n---\n") {
		var o object
		if err := yaml.Unmarshal([]byte(part), &o); err != nil {
			t.Fatalf("document %d does not parse: %v", i+1, err)
		}
		kinds[o.Kind] = append(kinds[o.Kind], o.Metadata.Name)
		switch o.Kind {
		case "ConfigMap", "Secret":
			for k := range o.Data {
				if strings.HasPrefix(k, "CHATNIGHT_") {
					env = append(env, k)
				}
			}
			for k := range o.StringData {
				if strings.HasPrefix(k, "CHATNIGHT_") {
					env = append(env, k)
				}
			}
		case "HorizontalPodAutoscaler":
			kinds["hpa-target"] = append(kinds["hpa-target"], o.Spec.ScaleTargetRef.Name)
		case "Deployment", "Job":
			for _, c := range o.Spec.Template.Spec.Containers {
				containers = append(containers, struct {
					owner string
					c     containerSpec
				}{o.Kind + " " + o.Metadata.Name, c})
			}
		}
	}
	for _, c := range containers {
		if !pinned.MatchString(c.c.Image) {
			t.Errorf("%s: image %q is not pinned", c.owner, c.c.Image)
		}
		if len(c.c.EnvFrom) < 2 {
			t.Errorf("%s: does not read the config map and the secret", c.owner)
		}
		if c.c.Resources.Requests["cpu"] == "" || c.c.Resources.Requests["memory"] == "" {
			t.Errorf("%s: no resource requests", c.owner)
		}
		if strings.HasPrefix(c.owner, "Deployment") && (c.c.ReadinessProbe == nil || c.c.LivenessProbe == nil) {
			t.Errorf("%s: no readiness or liveness probe", c.owner)
		}
		ports := c.c.Ports
		checkContainer(t, container{where: c.owner, args: c.c.Args, env: env}, flags, func(port string) bool {
			for _, p := range ports {
				if port != "" && strings.TrimLeft(port, "0") == strings.TrimLeft(itoa(p.ContainerPort), "0") {
					return true
				}
			}
			return false
		})
	}
	for _, want := range []string{"chatnight-process", "chatnight-serve"} {
		if !contains(kinds["hpa-target"], want) {
			t.Errorf("no HorizontalPodAutoscaler scales %s", want)
		}
	}
	for _, kind := range []string{"ConfigMap", "Secret", "Job", "Service"} {
		if len(kinds[kind]) == 0 {
			t.Errorf("no %s", kind)
		}
	}
	if len(kinds["Deployment"]) != 3 {
		t.Errorf("Deployments %v: want ingest, process and serve", kinds["Deployment"])
	}
}

func itoa(n int) string {
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
