package cloud

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParamsLists(t *testing.T) {
	p := params{
		"InstanceId.2": {"b"}, "InstanceId.1": {"a"}, "InstanceId.10": {"c"}, "InstanceId.x": {"bad"},
		"InstanceIdX.1": {"other"}, "SecurityGroup.0": {"zero"}, "SecurityGroup.1": {"one"},
		"InstanceType": {"bare"}, "Filter.1.Name": {"n1"}, "Filter.1.Value.1": {"v1"}, "Filter.1.Value.2": {"v2"},
		"Filter.2.Name": {"n2"}, "Tag.99999999999.Key": {"huge"},
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"InstanceId", []string{"a", "b", "c"}},
		{"SecurityGroup", []string{"zero", "one"}},
		{"InstanceType", []string{"bare"}},
		{"Tag", nil},
		{"Missing", nil},
	} {
		if got := p.list(c.prefix); !slices.Equal(got, c.want) {
			t.Errorf("list(%s) = %q, want %q", c.prefix, got, c.want)
		}
	}
	fs, err := p.filters()
	if err != nil || len(fs) != 2 || fs[0].name != "n1" || !slices.Equal(fs[0].values, []string{"v1", "v2"}) || len(fs[1].values) != 0 {
		t.Errorf("filters %+v %v", fs, err)
	}
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{
		{"abc", "abc", true}, {"abc", "abd", false}, {"*", "", true}, {"*", "anything", true},
		{"a*c", "abbbc", true}, {"a*c", "abbb", false}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"*web*", "my-web-1", true}, {`a\*c`, "a*c", true}, {`a\*c`, "abc", false}, {`a\?`, "a?", true},
		{"é?", "éè", true}, {"**a**", "bab", true}, {"a*b*c*d", "axxbyyczzd", true}, {"a*b*c*d", "axxbyyczz", false},
		{strings.Repeat("*a", 30) + "b", strings.Repeat("a", 200), false},
	} {
		if got := globMatch(c.pat, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	for _, s := range []string{"plain", `<a href="x">&'</a>`, "tab\tcr\rlf\n", "nul\x00bell\x07", "bad\xffutf8", "日本語", "\uFFFE"} {
		b := []byte("<v>")
		b = appendEscaped(b, s)
		b = append(b, "</v>"...)
		var v string
		if err := xml.Unmarshal(b, &v); err != nil {
			t.Errorf("%q: not XML: %v (%s)", s, err, b)
			continue
		}
		want := strings.Map(func(r rune) rune {
			if r == '\t' || r == '\r' || r == '\n' || (r >= 0x20 && r != 0xFFFE && r != 0xFFFF) {
				return r
			}
			return '\uFFFD'
		}, strings.ToValidUTF8(s, "\uFFFD"))
		if v != want {
			t.Errorf("%q round-trips as %q, want %q", s, v, want)
		}
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	cfg, err := Config{StateDir: "x"}.withDefaults()
	if err != nil || cfg.Flavor != FlavorAWS || cfg.Region != "us-east-1" || !slices.Equal(cfg.Zones, []string{"us-east-1a", "us-east-1b"}) ||
		cfg.BootDelay != time.Second || cfg.TerminatedRetention != time.Hour || cfg.InstanceUser != "nobody" || len(cfg.Images) == 0 {
		t.Errorf("defaults: %+v %v", cfg, err)
	}
	if !slices.ContainsFunc(cfg.Images, func(im Image) bool { return im.ID == "ami-60bd4609" }) {
		t.Errorf("default catalogue lacks the HTCondor article's image")
	}
	for _, bad := range []Config{
		{},
		{StateDir: "x", Flavor: "azure"},
		{StateDir: "x", Zones: []string{"a", "a"}},
		{StateDir: "x", Images: []Image{{ID: "img-1"}}},
		{StateDir: "x", Accounts: []Account{{Name: "a", AccessKeyID: "K", SecretAccessKey: "S", OwnerID: "12"}}},
		{StateDir: "x", Accounts: []Account{{Name: "a", AccessKeyID: "K", SecretAccessKey: "S"}, {Name: "b", AccessKeyID: "K", SecretAccessKey: "S"}}},
		{StateDir: "x", Accounts: []Account{{Name: "a", AccessKeyID: "K"}}},
		{StateDir: "x", BootDelay: -1},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	if a, b := ownerIDFor("x"), ownerIDFor("x"); a != b || !ownerIDPattern.MatchString(a) {
		t.Errorf("owner id %q %q", a, b)
	}
}

func TestEnsureDemoAccount(t *testing.T) {
	dir := t.TempDir()
	a, err := EnsureDemoAccount(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "demo" || !strings.HasPrefix(a.AccessKeyID, "AKIA") || len(a.AccessKeyID) != 20 ||
		len(a.SecretAccessKey) != 40 || !ownerIDPattern.MatchString(a.OwnerID) {
		t.Errorf("account %+v", a)
	}
	for file, want := range map[string]string{"AccessKeyID": a.AccessKeyID, "SecretAccessKey": a.SecretAccessKey} {
		path := filepath.Join(dir, "credentials", "demo", file)
		data, err := os.ReadFile(path)
		if err != nil || string(data) != want+"\n" {
			t.Errorf("%s: %q %v", file, data, err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", file, st.Mode())
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, "credentials", "demo")); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", st.Mode())
	}
	b, err := EnsureDemoAccount(dir)
	if err != nil || b != a {
		t.Errorf("second call: %+v %v", b, err)
	}
	// A StateDir the demo account creates is searchable, like one the store creates:
	// instance users must reach StateDir/instances/<id>.
	fresh := filepath.Join(t.TempDir(), "state")
	if _, err := EnsureDemoAccount(fresh); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != stateRootMode {
		t.Errorf("StateDir made by EnsureDemoAccount: %v %v, want mode %v", st.Mode(), err, os.FileMode(stateRootMode))
	}
	// A cloud with no accounts configured serves the demo account.
	s, err := New(t.Context(), Config{StateDir: dir, BootDelay: testBootDelay}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader("Action=DescribeKeyPairs&Version=2016-11-15"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signRequest(t, req, []byte("Action=DescribeKeyPairs&Version=2016-11-15"), a)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("demo account refused: %v %v", resp, err)
	}
	resp.Body.Close()
}

// FuzzQueryParams: whatever the body and query string, the handler answers (never
// panics, never hangs) with an EC2 document. The signature is valid, so the fuzzer
// reaches the actions.
func FuzzQueryParams(f *testing.F) {
	for _, seed := range []string{
		"Action=DescribeInstances",
		"Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=2&UserData=IyEvYmluL3NoCg%3D%3D",
		"Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1&BlockDeviceMapping.1.DeviceName=/dev/sdb&BlockDeviceMapping.1.Ebs.VolumeSize=8&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=a",
		"Action=DescribeInstances&Filter.1.Name=tag:x&Filter.1.Value.1=*a?b\\*&MaxResults=5&NextToken=AQAAAAAAAAAB",
		"Action=CreateTags&ResourceId.0=ami-12345678&Tag.0.Key=k&Tag.0.Value=v",
		"Action=DeleteTags&ResourceId.1=i-0123456789abcdef0",
		"Action=DescribeTags&MaxResults=5&NextToken=MQBpLTAAaw",
		"Action=ImportKeyPair&KeyName=k&PublicKeyMaterial=c3NoLXJzYSBBQUFB",
		"Action=DescribeKeyPairs&KeyName.1=k&Filter.1.Name=key-name&Filter.1.Value.1=*",
		"Action=DeleteKeyPair&KeyName=k",
		"Action=TerminateInstances&InstanceId.1=i-0123456789abcdef0",
		"Action=StopInstances&InstanceId.1=i-12345678&InstanceId.2=i-12345678",
		"Action=StartInstances",
		"Action=LaunchRocket&Version=bad",
		"%zz&&==",
	} {
		f.Add(seed, "")
	}
	f.Add("", "Action=DescribeInstances&InstanceId.1=i-0123456789abcdef0")
	// A fresh cloud whenever the fuzzer has launched many instances: state carried
	// between inputs finds more paths, but unbounded it makes every DescribeInstances
	// slower until the fuzzer stalls.
	const fuzzMaxInstances = 5000
	var s *Server
	base := f.TempDir()
	fresh := func() {
		if s != nil {
			s.Close()
		}
		dir, err := os.MkdirTemp(base, "cloud")
		if err != nil {
			f.Fatal(err)
		}
		s, err = New(context.Background(), Config{StateDir: dir, Accounts: []Account{alice}, BootDelay: time.Hour}, nil)
		if err != nil {
			f.Fatal(err)
		}
	}
	fresh()
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, body, query string) {
		s.mu.RLock()
		n := len(s.mem.byID)
		s.mu.RUnlock()
		if n > fuzzMaxInstances {
			fresh()
		}
		h := s.Handler()
		if strings.Contains(body, "CreateKeyPair") {
			return // RSA key generation is slow, and exercised by the tests
		}
		u := &url.URL{Scheme: "http", Host: "127.0.0.1:1", Path: "/", RawQuery: query}
		req, err := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		signRequest(t, req, []byte(body), alice)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Body.Bytes()
		if rec.Header().Get("x-amzn-RequestId") == "" || !bytes.Contains(out, []byte("Response")) {
			t.Fatalf("answer %d %s", rec.Code, out)
		}
		if err := xml.Unmarshal(out, new(node)); err != nil {
			t.Fatalf("answer is not XML: %v: %s", err, out)
		}
	})
}
