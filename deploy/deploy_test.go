// Package deploy_test checks the deployment files in this folder: the compose
// file, the Kubernetes manifests, the Prometheus configs, the Grafana
// dashboard, the systemd unit and the Dockerfile at the repository root. It
// holds tests only and needs no Docker engine: .ci/docker builds and runs
// the cpu image (and the gpu build stage on a stand-in) in CI, while the gpu
// image, compose and Kubernetes are checked only here.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	k8syaml "sigs.k8s.io/yaml"
)

// root is the repository root, seen from this package's folder.
const root = ".."

var (
	buildOnce sync.Once
	minerBin  string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// miner builds the miner command once (cgo, no tags: the CPU build) and
// returns the binary's path.
func miner(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "taominer-deploy-test")
		if buildErr != nil {
			return
		}
		minerBin = filepath.Join(binDir, "miner")
		cmd := exec.Command("go", "build", "-o", minerBin, "./miner")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./miner: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return minerBin
}

// ortLib is the CPU ONNX Runtime the Makefile fetches (make assets).
func ortLib(t *testing.T) string {
	t.Helper()
	lib, err := filepath.Abs(filepath.Join(root, ".cache/onnxruntime/libonnxruntime.so.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("ONNX Runtime library missing (run make assets): %v", err)
	}
	return lib
}

// knownOptions returns the environment variables and YAML keys `miner serve
// --help` lists: the options the miner really has.
func knownOptions(t *testing.T) (env, keys map[string]bool) {
	t.Helper()
	out, err := exec.Command(miner(t), "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("miner serve --help: %v\n%s", err, out)
	}
	env, keys = map[string]bool{}, map[string]bool{}
	for _, m := range regexp.MustCompile(`\bTAOMINER_[A-Z0-9_]+\b`).FindAllString(string(out), -1) {
		env[m] = true
	}
	// The usage prints each option with its environment twin and YAML key;
	// the YAML key is the environment name without the prefix, lower case.
	for e := range env {
		keys[strings.ToLower(strings.TrimPrefix(e, "TAOMINER_"))] = true
	}
	delete(keys, "config") // --config has no YAML key
	if len(env) < 20 {
		t.Fatalf("miner serve --help lists only %d environment variables:\n%s", len(env), out)
	}
	return env, keys
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---- compose

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"},
		cli.WithWorkingDirectory("."),
		cli.WithEnv([]string{"HOME=/home/operator"}),
		cli.WithProfiles([]string{"scale", "monitoring"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	return p
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	env, _ := knownOptions(t)
	for _, name := range []string{"redis", "miner", "worker", "prometheus", "grafana"} {
		if _, ok := p.Services[name]; !ok {
			t.Fatalf("compose.yaml: no service %q (have %v)", name, p.ServiceNames())
		}
	}
	if got := p.Services["worker"].Profiles; !slices.Equal(got, []string{"scale"}) {
		t.Errorf("worker profiles %v, want [scale]", got)
	}
	for _, name := range []string{"redis", "miner", "worker"} {
		s := p.Services[name]
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	for _, name := range []string{"miner", "worker"} {
		s := p.Services[name]
		if s.HealthCheck != nil && !asksReadiness(strings.Join(s.HealthCheck.Test, " ")) {
			t.Errorf("service %s healthcheck %v does not ask /v2/health/ready", name, s.HealthCheck.Test)
		}
		if s.Build == nil || (s.Build.Target != "gpu" && s.Build.Target != "cpu") {
			t.Errorf("service %s builds %+v, want the Dockerfile's gpu or cpu target", name, s.Build)
		}
		if got := s.Environment["TAOMINER_REDIS"]; got == nil || *got != "redis://redis:6379/0" {
			t.Errorf("service %s TAOMINER_REDIS = %v, want redis://redis:6379/0", name, got)
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, "TAOMINER_") && !env[k] {
				t.Errorf("service %s sets %s, which the miner does not read", name, k)
			}
		}
		for _, v := range s.Volumes {
			if !v.ReadOnly {
				t.Errorf("service %s mounts %s at %s read-write; the model repository and wallet must be read-only", name, v.Source, v.Target)
			}
		}
		gpu := false
		if s.Deploy != nil && s.Deploy.Resources.Reservations != nil {
			for _, d := range s.Deploy.Resources.Reservations.Devices {
				gpu = gpu || (d.Driver == "nvidia" && slices.Contains(d.Capabilities, "gpu"))
			}
		}
		if !gpu {
			t.Errorf("service %s reserves no NVIDIA GPU (deploy.resources.reservations.devices)", name)
		}
	}
	if role := p.Services["worker"].Environment["TAOMINER_ROLE"]; role == nil || *role != "worker" {
		t.Errorf("worker TAOMINER_ROLE = %v, want worker", role)
	}
	wallet := false
	for _, v := range p.Services["miner"].Volumes {
		if v.Target == "/wallets" {
			wallet = true
			if v.Source != "/home/operator/.bittensor/wallets" {
				t.Errorf("wallet source %q, want ${HOME}/.bittensor/wallets by default", v.Source)
			}
		}
	}
	if !wallet {
		t.Error("miner does not mount the wallet folder at /wallets")
	}
	ports := map[uint32]bool{}
	for _, pc := range p.Services["miner"].Ports {
		ports[pc.Target] = true
	}
	if !ports[8000] || !ports[8001] || !ports[8091] {
		t.Errorf("miner publishes container ports %v, want 8000, 8001 (gRPC) and 8091", ports)
	}
}

// ---- Kubernetes

// k8sObject is one decoded manifest.
type k8sObject struct {
	file string
	kind string
	obj  any
}

func decodeStrict(data []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the object")
	}
	return nil
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func loadK8s(t *testing.T) []k8sObject {
	t.Helper()
	var objs []k8sObject
	err := filepath.WalkDir("k8s", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml") {
			t.Errorf("%s: not a .yaml file in deploy/k8s", path)
			return nil
		}
		for i, doc := range docSeparator.Split(string(readFile(t, path)), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s document %d", path, i+1)
			js, err := k8syaml.YAMLToJSONStrict([]byte(doc))
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			var tm struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := json.Unmarshal(js, &tm); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 Namespace":
				obj = &corev1.Namespace{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			default:
				t.Errorf("%s: kind %q %q has no decoder in this test; add one", where, tm.APIVersion, tm.Kind)
				continue
			}
			if err := decodeStrict(js, obj); err != nil {
				t.Errorf("%s (%s): strict decode: %v", where, tm.Kind, err)
				continue
			}
			objs = append(objs, k8sObject{file: where, kind: tm.Kind, obj: obj})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetes(t *testing.T) {
	objs := loadK8s(t)
	var deps []*appsv1.Deployment
	var svcs []*corev1.Service
	configMaps := map[string]*corev1.ConfigMap{}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			deps = append(deps, v)
		case *corev1.Service:
			svcs = append(svcs, v)
		case *corev1.ConfigMap:
			configMaps[v.Name] = v
		case *corev1.Secret:
			for k := range v.StringData {
				if strings.Contains(strings.ToLower(k), "cold") {
					t.Errorf("%s: Secret %s holds %q: the coldkey never goes on the server", o.file, v.Name, k)
				}
			}
		}
	}
	names := map[string]*appsv1.Deployment{}
	for _, d := range deps {
		names[d.Name] = d
	}
	for _, want := range []string{"taominer-front", "taominer-worker", "taominer-redis"} {
		if names[want] == nil {
			t.Fatalf("no Deployment %s", want)
		}
	}
	for _, d := range deps {
		tpl := d.Spec.Template
		if d.Spec.Selector == nil || !matches(d.Spec.Selector.MatchLabels, tpl.Labels) {
			t.Errorf("Deployment %s: selector %v does not match its pod labels %v", d.Name, d.Spec.Selector, tpl.Labels)
		}
		sc := tpl.Spec.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("Deployment %s: pods must run as non-root", d.Name)
		}
		vols := map[string]corev1.Volume{}
		for _, v := range tpl.Spec.Volumes {
			vols[v.Name] = v
		}
		for _, c := range tpl.Spec.Containers {
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("Deployment %s container %s: needs readiness and liveness probes", d.Name, c.Name)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("Deployment %s container %s: needs cpu and memory requests and a memory limit", d.Name, c.Name)
			}
			portNames := map[string]bool{}
			for _, p := range c.Ports {
				portNames[p.Name] = true
			}
			for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
				if p != nil && p.HTTPGet != nil && p.HTTPGet.Port.StrVal != "" && !portNames[p.HTTPGet.Port.StrVal] {
					t.Errorf("Deployment %s: probe port %q is not a container port", d.Name, p.HTTPGet.Port.StrVal)
				}
				// The miner's probes run `miner healthcheck` inside the pod:
				// from loopback, exempt from the connection caps (an
				// httpGet probe comes from the node's address and would be
				// refused while the caps are hit).
				if p != nil && strings.HasPrefix(c.Image, "taominer") {
					if p.Exec == nil || len(p.Exec.Command) < 2 || p.Exec.Command[1] != "healthcheck" ||
						!slices.ContainsFunc(p.Exec.Command, func(a string) bool { return strings.HasPrefix(a, "http://127.0.0.1:") }) {
						t.Errorf("Deployment %s: a miner probe must exec `miner healthcheck --url http://127.0.0.1:...`", d.Name)
					}
				}
			}
			for _, m := range c.VolumeMounts {
				v, ok := vols[m.Name]
				if !ok {
					t.Errorf("Deployment %s: mount %s has no volume", d.Name, m.Name)
					continue
				}
				if (v.Secret != nil || v.ConfigMap != nil) && !m.ReadOnly {
					t.Errorf("Deployment %s: %s mounted read-write; secrets and config are read-only", d.Name, m.Name)
				}
				if v.ConfigMap != nil && configMaps[v.ConfigMap.Name] == nil {
					t.Errorf("Deployment %s: ConfigMap %s is not in deploy/k8s", d.Name, v.ConfigMap.Name)
				}
				if v.Secret != nil {
					for _, it := range v.Secret.Items {
						if strings.Contains(it.Path, "coldkey") || !strings.Contains(it.Path, "/hotkeys/") {
							t.Errorf("Deployment %s: secret item %s → %s; only hotkeys/<name> belongs on the server", d.Name, it.Key, it.Path)
						}
					}
				}
			}
			// --config /etc/taominer/<key>: the key must be in the mounted ConfigMap.
			if i := slices.Index(c.Args, "--config"); i >= 0 && i+1 < len(c.Args) {
				key := filepath.Base(c.Args[i+1])
				found := false
				for _, cm := range configMaps {
					_, found = cm.Data[key]
					if found {
						break
					}
				}
				if !found {
					t.Errorf("Deployment %s: --config %s is not a key of any ConfigMap", d.Name, c.Args[i+1])
				}
			}
		}
	}
	worker := names["taominer-worker"].Spec.Template.Spec.Containers[0]
	if q := worker.Resources.Limits["nvidia.com/gpu"]; q.Value() < 1 {
		t.Errorf("worker: nvidia.com/gpu limit %v, want at least 1", q.String())
	}
	front := names["taominer-front"].Spec.Template.Spec
	hasSecret := false
	for _, v := range front.Volumes {
		hasSecret = hasSecret || v.Secret != nil
	}
	if !hasSecret {
		t.Error("front: the hotkey is not mounted from a Secret")
	}
	for _, s := range svcs {
		var target *appsv1.Deployment
		for _, d := range deps {
			if matches(s.Spec.Selector, d.Spec.Template.Labels) {
				target = d
			}
		}
		if target == nil {
			t.Errorf("Service %s: selector %v matches no Deployment", s.Name, s.Spec.Selector)
			continue
		}
		ports := map[string]bool{}
		for _, c := range target.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				ports[p.Name] = true
			}
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.StrVal != "" && !ports[p.TargetPort.StrVal] {
				t.Errorf("Service %s: targetPort %q is not a port of %s", s.Name, p.TargetPort.StrVal, target.Name)
			}
		}
	}
	var frontSvc *corev1.Service
	for _, s := range svcs {
		if s.Name == "taominer-front" {
			frontSvc = s
		}
	}
	if frontSvc == nil {
		t.Fatal("no Service taominer-front")
	}
	var ports []int32
	for _, p := range frontSvc.Spec.Ports {
		ports = append(ports, p.Port)
	}
	if !slices.Equal(ports, []int32{8000, 8001, 8091}) {
		t.Errorf("Service taominer-front ports %v, want [8000 8001 8091]", ports)
	}
	checkConfigMap(t, configMaps["taominer-config"])
}

// checkConfigMap loads every YAML config of the ConfigMap with the real miner:
// an unknown key or a bad value exits 2 naming it; a config that loads gets as
// far as opening ONNX Runtime (made to fail, exit 1). Flags switch off Redis,
// the chain and the wallet, which the files point at a cluster for.
func checkConfigMap(t *testing.T, cm *corev1.ConfigMap) {
	t.Helper()
	if cm == nil {
		t.Fatal("no ConfigMap taominer-config")
	}
	bin := miner(t)
	_, keys := knownOptions(t)
	for name, body := range cm.Data {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(body), &m); err != nil {
			t.Errorf("ConfigMap %s: %v", name, err)
			continue
		}
		for k := range m {
			if !keys[k] {
				t.Errorf("ConfigMap %s: key %q is not an option of miner serve", name, k)
			}
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "serve", "--config", path, "--onnxruntime-lib", "/nonexistent/libonnxruntime.so.1",
			"--role", "all", "--redis", "", "--network", "", "--wallet", "", "--models", t.TempDir(), "--http-addr", "127.0.0.1:0")
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if err == nil || code != 1 || !strings.Contains(stderr.String(), "onnxruntime library /nonexistent") {
			t.Errorf("ConfigMap %s: miner serve --config exited %d, want 1 at the ONNX Runtime step (the config loaded):\n%s", name, code, stderr.String())
		}
	}
}

// ---- Prometheus

type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		ScrapeTimeout      string `yaml:"scrape_timeout"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
		DNSSDConfigs []struct {
			Names           []string `yaml:"names"`
			Type            string   `yaml:"type"`
			Port            int      `yaml:"port"`
			RefreshInterval string   `yaml:"refresh_interval"`
		} `yaml:"dns_sd_configs"`
		KubernetesSDConfigs []struct {
			Role       string `yaml:"role"`
			Namespaces struct {
				Names []string `yaml:"names"`
			} `yaml:"namespaces"`
		} `yaml:"kubernetes_sd_configs"`
		RelabelConfigs []struct {
			SourceLabels []string `yaml:"source_labels"`
			Regex        string   `yaml:"regex"`
			Action       string   `yaml:"action"`
			TargetLabel  string   `yaml:"target_label"`
			Replacement  string   `yaml:"replacement"`
		} `yaml:"relabel_configs"`
	} `yaml:"scrape_configs"`
}

func loadProm(t *testing.T, path string) promConfig {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	dec.KnownFields(true)
	var c promConfig
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	dur := func(what, s string) {
		if s == "" {
			return
		}
		if _, err := model.ParseDuration(s); err != nil {
			t.Errorf("%s: %s %q: %v", path, what, s, err)
		}
	}
	dur("scrape_interval", c.Global.ScrapeInterval)
	dur("scrape_timeout", c.Global.ScrapeTimeout)
	dur("evaluation_interval", c.Global.EvaluationInterval)
	jobs := map[string]bool{}
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName == "" || jobs[sc.JobName] {
			t.Errorf("%s: job name %q empty or repeated", path, sc.JobName)
		}
		jobs[sc.JobName] = true
		if sc.MetricsPath != "/metrics" {
			t.Errorf("%s: job %s scrapes %q, the miner serves /metrics", path, sc.JobName, sc.MetricsPath)
		}
		if len(sc.StaticConfigs)+len(sc.DNSSDConfigs)+len(sc.KubernetesSDConfigs) == 0 {
			t.Errorf("%s: job %s has no targets", path, sc.JobName)
		}
		for _, d := range sc.DNSSDConfigs {
			dur("refresh_interval", d.RefreshInterval)
			if d.Type != "A" && d.Type != "AAAA" && d.Type != "SRV" {
				t.Errorf("%s: dns_sd type %q", path, d.Type)
			}
		}
		for _, r := range sc.RelabelConfigs {
			if r.Regex != "" {
				if _, err := regexp.Compile("^(?:" + r.Regex + ")$"); err != nil {
					t.Errorf("%s: job %s regex %q: %v", path, sc.JobName, r.Regex, err)
				}
			}
			switch r.Action {
			case "", "replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal":
			default:
				t.Errorf("%s: job %s relabel action %q", path, sc.JobName, r.Action)
			}
			if (r.Action == "" || r.Action == "replace") && r.TargetLabel == "" {
				t.Errorf("%s: job %s replace without target_label", path, sc.JobName)
			}
		}
	}
	return c
}

func TestPrometheus(t *testing.T) {
	c := loadProm(t, "prometheus.yml")
	p := loadCompose(t)
	// The DNS names scraped are compose services, on the miner's HTTP port.
	for _, sc := range c.ScrapeConfigs {
		for _, d := range sc.DNSSDConfigs {
			for _, n := range d.Names {
				if _, ok := p.Services[n]; !ok {
					t.Errorf("prometheus.yml job %s scrapes %q, which is not a compose service", sc.JobName, n)
				}
			}
			if d.Port != 8000 {
				t.Errorf("prometheus.yml job %s port %d, want 8000", sc.JobName, d.Port)
			}
		}
	}
	k := loadProm(t, "prometheus-k8s.yml")
	// The keep rules select the labels and port name the manifests use.
	want := map[string]string{
		"__meta_kubernetes_pod_label_app_kubernetes_io_name": "taominer",
		"__meta_kubernetes_pod_container_port_name":          "http",
	}
	for _, sc := range k.ScrapeConfigs {
		for _, r := range sc.RelabelConfigs {
			if r.Action == "keep" && len(r.SourceLabels) == 1 {
				if w, ok := want[r.SourceLabels[0]]; ok && r.Regex != w {
					t.Errorf("prometheus-k8s.yml keeps %s=%q, manifests use %q", r.SourceLabels[0], r.Regex, w)
				}
				delete(want, r.SourceLabels[0])
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("prometheus-k8s.yml lacks keep rules on %v", want)
	}
}

// ---- Grafana

// needsFeature lists metric families a node without a chain or a GPU does
// not export, with the source file and text that registers each. They are
// checked in the code instead of a scrape.
var needsFeature = map[string][2]string{
	"taominer_chain_uid":               {"../miner/internal/chainnode/status.go", `gauge("uid"`},
	"taominer_chain_registered":        {"../miner/internal/chainnode/status.go", `gauge("registered"`},
	"taominer_chain_stake_alpha":       {"../miner/internal/chainnode/status.go", `gauge("stake_alpha"`},
	"taominer_chain_incentive":         {"../miner/internal/chainnode/status.go", `gauge("incentive"`},
	"taominer_chain_emission_alpha":    {"../miner/internal/chainnode/status.go", `gauge("emission_alpha"`},
	"taominer_chain_last_sync_block":   {"../miner/internal/chainnode/status.go", `gauge("last_sync_block"`},
	"taominer_chain_axon_published":    {"../miner/internal/chainnode/status.go", `gauge("axon_published"`},
	"taominer_gpu_memory_total_bytes":  {"../miner/internal/gpus/gpus.go", `"taominer_gpu_memory_total_bytes"`},
	"taominer_gpu_memory_used_bytes":   {"../miner/internal/gpus/gpus.go", `"taominer_gpu_memory_used_bytes"`},
	"taominer_gpu_utilization_ratio":   {"../miner/internal/gpus/gpus.go", `"taominer_gpu_utilization_ratio"`},
	"taominer_gpu_temperature_celsius": {"../miner/internal/gpus/gpus.go", `"taominer_gpu_temperature_celsius"`},
	"taominer_gpu_power_watts":         {"../miner/internal/gpus/gpus.go", `"taominer_gpu_power_watts"`},
	// Appears once a mapped synapse was answered with its fallback.
	"taominer_axon_fallback_total": {"../miner/axon.go", `"taominer_axon_fallback_total"`},
}

var metricName = regexp.MustCompile(`\b(?:taominer|go|process)_[a-zA-Z0-9_]+\b`)

// dashboardMetrics returns every metric name the dashboard's queries use.
func dashboardMetrics(t *testing.T) map[string]bool {
	t.Helper()
	var dash struct {
		UID        string            `json:"uid"`
		Title      string            `json:"title"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(readFile(t, "grafana/taominer.json"), &dash); err != nil {
		t.Fatalf("grafana/taominer.json: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatal("grafana/taominer.json: no uid, title or panels")
	}
	names := map[string]bool{}
	ids := map[int]bool{}
	walkPanels(t, dash.Panels, func(p panel) {
		if ids[p.ID] {
			t.Errorf("panel id %d repeated", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			found := metricName.FindAllString(tg.Expr, -1)
			if len(found) == 0 {
				t.Errorf("panel %q: query %q names no taominer, go or process metric", p.Title, tg.Expr)
			}
			for _, n := range found {
				names[n] = true
			}
		}
	})
	for _, v := range dash.Templating.List {
		for _, n := range metricName.FindAllString(string(v.Query), -1) {
			names[n] = true
		}
	}
	return names
}

// panel is a Grafana panel: a row holds panels.
type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// walkPanels calls visit on each panel of panels and of their rows.
func walkPanels(t *testing.T, panels []json.RawMessage, visit func(panel)) {
	t.Helper()
	var walk func(p panel)
	walk = func(p panel) {
		visit(p)
		for _, c := range p.Panels {
			walk(c)
		}
	}
	for _, raw := range panels {
		var p panel
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("grafana/taominer.json: %v", err)
		}
		walk(p)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func hotkeySS58(t *testing.T, bin, walletPath, wallet string) string {
	t.Helper()
	out := runOK(t, bin, "wallet", "show", "--json", "--wallet-path", walletPath, "--wallet", wallet, "--hotkey", "default")
	var w struct {
		HotkeySS58 string `json:"hotkey_ss58"`
	}
	if err := json.Unmarshal([]byte(out), &w); err != nil || w.HotkeySS58 == "" {
		t.Fatalf("miner wallet show --json: %v\n%s", err, out)
	}
	return w.HotkeySS58
}

// runningMiner is a CPU miner process that startMiner started, serving the
// bundled model (and a broken one) with a hotkey and an axon that answers
// one allowed validator.
type runningMiner struct {
	bin, base, axon string // binary, http://host:port of --http-addr, host:port of the axon
	wallets         string // --wallet-path: wallets "miner" (//Alice), "validator" (//Bob)
	minerSS58       string
	logs            *bytes.Buffer
}

// startMiner starts the miner (extra: more serve flags), stops it when the
// test ends (its log shown if the test failed) and returns once it is
// ready.
func startMiner(t *testing.T, extra ...string) *runningMiner {
	t.Helper()
	bin := miner(t)
	lib := ortLib(t)
	bundled := filepath.Join(root, "model-repo")
	if _, err := os.Stat(filepath.Join(bundled, "ppocr_cls/1/model.onnx")); err != nil {
		t.Fatalf("bundled model missing (run make assets): %v", err)
	}
	// The bundled model, plus a file that fails to load so that
	// taominer_model_load_failures_total has a series.
	models := filepath.Join(t.TempDir(), "models")
	if err := os.CopyFS(models, os.DirFS(bundled)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(models, "broken.onnx"), []byte("not an ONNX file"), 0o600); err != nil {
		t.Fatal(err)
	}
	wallets := t.TempDir()
	runOK(t, bin, "wallet", "regen", "--hot", "--uri", "//Alice", "--wallet-path", wallets, "--wallet", "miner", "--hotkey", "default")
	runOK(t, bin, "wallet", "regen", "--hot", "--uri", "//Bob", "--wallet-path", wallets, "--wallet", "validator", "--hotkey", "default")
	m := &runningMiner{bin: bin, wallets: wallets, minerSS58: hotkeySS58(t, bin, wallets, "miner"), logs: new(bytes.Buffer)}
	validatorSS58 := hotkeySS58(t, bin, wallets, "validator")

	httpPort, axonPort := freePort(t), freePort(t)
	m.base, m.axon = fmt.Sprintf("http://127.0.0.1:%d", httpPort), fmt.Sprintf("127.0.0.1:%d", axonPort)
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"serve", "--models", models, "--onnxruntime-lib", lib,
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort), "--model-control", "none",
		"--wallet-path", wallets, "--wallet", "miner", "--hotkey", "default",
		"--axon-port", fmt.Sprint(axonPort), "--allow-hotkey", validatorSS58}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = m.logs, m.logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("miner log:\n%s", m.logs.String())
		}
	})

	// The image's HEALTHCHECK command, against the real node.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if exec.Command(bin, "healthcheck", "--quiet", "--url", m.base+"/v2/health/ready").Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("miner not ready after 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return m
}

// inferBody is a KServe request for the bundled model (one image of 0.5s).
func inferBody() string {
	data := strings.TrimSuffix(strings.Repeat("0.5,", 3*48*192), ",")
	return `{"inputs":[{"name":"x","shape":[1,3,48,192],"datatype":"FP32","data":[` + data + `]}]}`
}

// post sends body to the miner's path and returns the status and answer.
func (m *runningMiner) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(m.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// traffic sends one KServe request and one signed Infer synapse from the
// allowed validator, so that the histograms and axon counters have series.
func (m *runningMiner) traffic(t *testing.T) {
	t.Helper()
	if code, b := m.post(t, "/v2/models/ppocr_cls/infer", inferBody()); code != http.StatusOK {
		t.Fatalf("infer: %d %s", code, b)
	}
	m.query(t, "validator")
}

// query sends a signed Infer synapse for the bundled model from wallet's
// hotkey; it fails the test when `miner query` does.
func (m *runningMiner) query(t *testing.T, wallet string) {
	t.Helper()
	synapse := `{"model":"ppocr_cls",` + strings.TrimPrefix(inferBody(), "{")
	runOK(t, m.bin, "query", "--wallet-path", m.wallets, "--wallet", wallet, "--hotkey", "default",
		"--axon", m.axon, "--axon-hotkey", m.minerSS58, "--synapse", "Infer", "--body", synapse)
}

// metrics returns the text of GET /metrics.
func (m *runningMiner) metrics(t *testing.T) []byte {
	t.Helper()
	resp, err := http.Get(m.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return b
}

// scrapeRunningMiner starts the miner, sends it traffic and returns the
// series of /metrics with their family's type.
func scrapeRunningMiner(t *testing.T) map[string]string {
	t.Helper()
	m := startMiner(t)
	m.traffic(t)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(m.metrics(t)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	// Series names: a histogram F has F_bucket, F_sum, F_count.
	series := map[string]string{}
	for name, f := range fams {
		if len(f.GetMetric()) == 0 {
			continue
		}
		kind := strings.ToLower(f.GetType().String())
		series[name] = kind
		if kind == "histogram" || kind == "summary" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				series[name+s] = kind
			}
		}
	}
	return series
}

func TestGrafanaDashboardMetricsExist(t *testing.T) {
	used := dashboardMetrics(t)
	series := scrapeRunningMiner(t)
	var missing []string
	for name := range used {
		if _, ok := series[name]; ok {
			continue
		}
		if src, ok := needsFeature[name]; ok {
			if !bytes.Contains(readFile(t, src[0]), []byte(src[1])) {
				t.Errorf("dashboard uses %s; %s no longer registers it (%s)", name, src[0], src[1])
			}
			continue
		}
		missing = append(missing, name)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("dashboard queries metrics the running miner does not export: %v", missing)
	}
	// Each family of the metric tables in docs/metrics.md is on the dashboard.
	for _, want := range []string{
		"taominer_request_duration_seconds_bucket", "taominer_queue_duration_seconds_bucket",
		"taominer_compute_duration_seconds_bucket", "taominer_batch_size_bucket",
		"taominer_inference_request_success_total", "taominer_inference_request_failure_total",
		"taominer_queue_depth", "taominer_inference_executing", "taominer_model_ready",
		"taominer_axon_refused_total", "taominer_axon_accepted_total", "taominer_axon_answered_total",
		"taominer_axon_request_duration_seconds_bucket", "taominer_front_requests_total",
	} {
		if !used[want] {
			t.Errorf("dashboard has no panel on %s", want)
		}
	}
	for name := range needsFeature {
		if !used[name] {
			t.Errorf("dashboard has no panel on %s", name)
		}
	}
}

// ---- Dockerfile and Makefile

type instruction struct {
	cmd, args string
	stage     string
}

// parseDockerfile joins continued lines and returns the instructions with
// the stage each belongs to.
func parseDockerfile(t *testing.T) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	stage := ""
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			f := strings.Fields(args)
			stage = f[0]
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				stage = f[2]
			}
		}
		out = append(out, instruction{cmd: cmd, args: strings.TrimSpace(args), stage: stage})
	}
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, filepath.Join(root, "Dockerfile"))))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return out
}

// makeBuildCommand returns the go build command `make -n target` prints,
// with the Makefile's variables expanded (VERSION set to a marker).
func makeBuildCommand(t *testing.T, target string) string {
	t.Helper()
	cmd := exec.Command("make", "-n", target, "VERSION=deploy-test", "GO=go")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %s: %v\n%s", target, err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "go build ") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("make -n %s prints no go build:\n%s", target, out)
	return ""
}

func TestDockerfileBuildsWithMakefileFlags(t *testing.T) {
	ins := parseDockerfile(t)
	env, _ := knownOptions(t)
	stages := map[string]bool{}
	var last string
	runs := map[string][]string{}
	copies := map[string][]string{} // stage → COPY --from=<stage> sources copied out of it
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			stages[in.stage] = true
			last = in.stage
		case "RUN":
			runs[in.stage] = append(runs[in.stage], in.args)
			if regexp.MustCompile(`\bgo\s+(build|install)\b`).MatchString(in.args) {
				t.Errorf("stage %s runs go build itself (%q); build through the Makefile so the flags have one source", in.stage, in.args)
			}
		case "COPY":
			f := strings.Fields(in.args)
			for _, a := range f {
				if from, ok := strings.CutPrefix(a, "--from="); ok {
					copies[from] = append(copies[from], f[len(f)-2])
				}
			}
		case "ENV":
			for _, m := range regexp.MustCompile(`\bTAOMINER_[A-Z0-9_]+`).FindAllString(in.args, -1) {
				if !env[m] {
					t.Errorf("stage %s sets %s, which the miner does not read", in.stage, m)
				}
			}
		}
	}
	if last != "gpu" || !stages["cpu"] {
		t.Errorf("stages %v, last %q: want a cpu target and gpu as the default (last) target", stages, last)
	}
	for _, c := range []struct{ stage, target, tag string }{{"build-cpu", "build", ""}, {"build-gpu", "build-gpu", "-tags gpu"}} {
		recipe := makeBuildCommand(t, c.target)
		if !strings.Contains(recipe, `-ldflags "-X main.version=deploy-test"`) || (c.tag != "" && !strings.Contains(recipe, c.tag)) {
			t.Errorf("make %s runs %q: lacks the version ldflags (VERSION, which the Dockerfile passes) %s", c.target, recipe, c.tag)
		}
		out := regexp.MustCompile(`-o\s+(\S+)`).FindStringSubmatch(recipe)
		if out == nil {
			t.Errorf("make %s runs %q: no -o", c.target, recipe)
			continue
		}
		if !slices.ContainsFunc(runs[c.stage], func(r string) bool {
			return regexp.MustCompile(`\bmake\s+` + regexp.QuoteMeta(c.target) + `(\s|$)`).MatchString(r)
		}) {
			t.Errorf("stage %s does not run make %s: %q", c.stage, c.target, runs[c.stage])
		}
		if !slices.Contains(copies[c.stage], "/src/"+out[1]) {
			t.Errorf("no stage copies /src/%s (what make %s writes) out of %s: copies %q", out[1], c.target, c.stage, copies[c.stage])
		}
	}
	// The runtime targets.
	for _, target := range []string{"cpu", "gpu"} {
		var user, expose, health, volume []string
		for _, in := range ins {
			if in.stage != target {
				continue
			}
			switch in.cmd {
			case "USER":
				user = append(user, in.args)
			case "EXPOSE":
				expose = append(expose, strings.Fields(in.args)...)
			case "HEALTHCHECK":
				health = append(health, in.args)
			case "VOLUME":
				volume = append(volume, in.args)
			}
		}
		if len(user) == 0 || strings.HasPrefix(user[len(user)-1], "0") || strings.HasPrefix(user[len(user)-1], "root") {
			t.Errorf("target %s runs as %v, want a non-root user", target, user)
		}
		if !slices.Equal(expose, []string{"8000", "8001", "8091"}) {
			t.Errorf("target %s exposes %v, want 8000 8001 8091", target, expose)
		}
		if len(health) != 1 || !asksReadiness(health[0]) || strings.Contains(health[0], "--url") {
			t.Errorf("target %s HEALTHCHECK %q, want one `miner healthcheck` without --url (it follows TAOMINER_HTTP_ADDR)", target, health)
		}
		// A VOLUME leaves an anonymous volume behind each run; operators
		// mount their own model repository and wallet (docs/docker.md).
		if len(volume) > 0 {
			t.Errorf("target %s declares VOLUME %q; want none", target, volume)
		}
	}
	// The GPU ONNX Runtime: version from a build argument, checksum verified when given.
	ort := strings.Join(runs["ort-gpu"], "\n")
	for _, want := range []string{"releases/download/v${ORT_VERSION}/onnxruntime-linux-x64-gpu-${ORT_VERSION}.tgz", `if [ -n "${ORT_SHA256}" ]`, "sha256sum -c"} {
		if !strings.Contains(ort, want) {
			t.Errorf("stage ort-gpu lacks %q:\n%s", want, ort)
		}
	}
	if !regexp.MustCompile(`(?m)^ARG ORT_SHA256=\s*$`).Match(readFile(t, filepath.Join(root, "Dockerfile"))) {
		t.Error("ORT_SHA256 must default to empty: no checksum is invented")
	}
}

// asksReadiness: a health check command that GETs /v2/health/ready, either
// by URL or through `miner healthcheck`, whose default URL it is.
func asksReadiness(cmd string) bool {
	return strings.Contains(cmd, "/v2/health/ready") || regexp.MustCompile(`\bminer"?,?\s+"?healthcheck\b`).MatchString(cmd)
}

// TestDockerfileBuildKit: the Dockerfile needs BuildKit (cache mounts,
// secrets) and says so when built without it; it names no frontend image to
// pull (# syntax=), and build secrets, not build arguments, carry the CA and
// npm settings.
func TestDockerfileBuildKit(t *testing.T) {
	text := string(readFile(t, filepath.Join(root, "Dockerfile")))
	if regexp.MustCompile(`(?m)^#\s*syntax\s*=`).MatchString(text) {
		t.Error("Dockerfile has a # syntax= line: every build would fetch that frontend image")
	}
	ins := parseDockerfile(t)
	if len(ins) < 2 || ins[0].cmd != "ARG" {
		t.Fatalf("Dockerfile starts with %+v", ins[:min(len(ins), 2)])
	}
	var first string
	guarded := false
	for _, in := range ins {
		if in.cmd == "FROM" && first == "" {
			first = in.stage
		}
		if in.cmd == "RUN" && in.stage == first && strings.Contains(in.args, "${BUILDPLATFORM}") && strings.Contains(in.args, "needs BuildKit") {
			guarded = true
		}
		if in.cmd == "ARG" && regexp.MustCompile(`(?i)(^|_)(ca|cert|npm|npmrc|registry|token|secret|password)(_|$)`).MatchString(strings.SplitN(in.args, "=", 2)[0]) {
			t.Errorf("ARG %s: build arguments stay in the image history; pass it as a --secret", in.args)
		}
	}
	if !guarded {
		t.Errorf("the first stage (%s) does not refuse the legacy builder (a RUN testing ${BUILDPLATFORM} that says it needs BuildKit)", first)
	}
	for _, want := range []string{"--mount=type=secret,id=ca", "--mount=type=secret,id=npmrc", "--mount=type=cache"} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

// TestDockerignoreCoversGitignore: what git ignores (built binaries, caches,
// the fetched model) stays out of the build context too.
func TestDockerignoreCoversGitignore(t *testing.T) {
	have := map[string]bool{}
	for line := range strings.SplitSeq(string(readFile(t, filepath.Join(root, ".dockerignore"))), "\n") {
		have[strings.TrimSpace(line)] = true
	}
	for line := range strings.SplitSeq(string(readFile(t, filepath.Join(root, ".gitignore"))), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		anchored := strings.HasPrefix(p, "/")
		p = strings.Trim(p, "/")
		if !anchored && !strings.Contains(p, "/") {
			p = "**/" + p // .gitignore matches it in every folder
		}
		if !have[p] {
			t.Errorf(".gitignore has %q but .dockerignore lacks %q", line, p)
		}
	}
}

// TestORTChecksumStep runs the ort-gpu stage's verification logic with sh on
// a stand-in file: a wrong ORT_SHA256 fails, the right one and an empty one pass.
func TestORTChecksumStep(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ort.tgz")
	if err := os.WriteFile(file, []byte("not really onnxruntime"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := strings.Fields(runOK(t, "sha256sum", file))[0]
	script := `set -eu; if [ -n "${ORT_SHA256}" ]; then echo "${ORT_SHA256}  ` + file + `" | sha256sum -c -; else echo unverified >&2; fi`
	for _, c := range []struct {
		sha string
		ok  bool
	}{{"", true}, {sum, true}, {strings.Repeat("0", 64), false}} {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "ORT_SHA256="+c.sha)
		out, err := cmd.CombinedOutput()
		if (err == nil) != c.ok {
			t.Errorf("ORT_SHA256=%q: err %v, want ok=%v\n%s", c.sha, err, c.ok, out)
		}
	}
	// The same test as the Dockerfile's.
	if !strings.Contains(string(readFile(t, filepath.Join(root, "Dockerfile"))), `echo "${ORT_SHA256}  /tmp/ort.tgz" | sha256sum -c -`) {
		t.Error("the Dockerfile's checksum line differs from the one tested here")
	}
}

// ---- systemd

func TestSystemdUnit(t *testing.T) {
	sections := map[string]map[string][]string{}
	sec := ""
	for i, line := range strings.Split(string(readFile(t, "systemd/taominer.service")), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sec = strings.Trim(line, "[]")
			sections[sec] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || sec == "" {
				t.Fatalf("taominer.service line %d: %q is not key=value in a section", i+1, line)
			}
			sections[sec][k] = append(sections[sec][k], v)
		}
	}
	get := func(s, k string) string {
		v := sections[s][k]
		if len(v) == 0 {
			return ""
		}
		return v[len(v)-1]
	}
	if !strings.HasPrefix(get("Service", "ExecStart"), "/usr/local/bin/miner serve") {
		t.Errorf("ExecStart %q", get("Service", "ExecStart"))
	}
	if get("Service", "User") == "" && get("Service", "DynamicUser") != "yes" {
		t.Error("no User= or DynamicUser=yes")
	}
	for k, want := range map[string][]string{
		"NoNewPrivileges": {"yes", "true"},
		"ProtectSystem":   {"strict", "full"},
		"ProtectHome":     {"yes", "read-only", "tmpfs"},
		"PrivateTmp":      {"yes"},
		"Restart":         {"on-failure", "always"},
	} {
		if !slices.Contains(want, get("Service", k)) {
			t.Errorf("%s=%q, want one of %v", k, get("Service", k), want)
		}
	}
	if get("Service", "EnvironmentFile") == "" || get("Install", "WantedBy") == "" {
		t.Error("EnvironmentFile= and WantedBy= are required")
	}
	env, _ := knownOptions(t)
	for i, line := range strings.Split(string(readFile(t, "systemd/taominer.env")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || !env[k] {
			t.Errorf("taominer.env line %d: %q is not an option of miner serve", i+1, line)
		}
	}
}
