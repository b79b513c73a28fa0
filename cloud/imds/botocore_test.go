package imds

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// debianPython is the interpreter of Debian's python3-botocore, the client CI installs.
const debianPython = "/usr/bin/python3"

// botocoreScript reads the metadata the way botocore does: IMDSFetcher builds every URL as
// the configured endpoint + "latest/...", fetches a token first, and sends it on each GET.
// user-data and instance-id have no public botocore call, so the script uses the fetcher's
// request method; the region goes through botocore's own region fetcher.
const botocoreScript = `
import json, botocore.session
from botocore.utils import IMDSFetcher, InstanceMetadataRegionFetcher
s = botocore.session.get_session()
cfg = {"ec2_metadata_service_endpoint": s.get_config_variable("ec2_metadata_service_endpoint")}
class F(IMDSFetcher):
    def get(self, path):
        return self._get_request(path, None, self._fetch_metadata_token()).text
f = F(config=cfg)
print(json.dumps({
    "base": f.get_base_url(),
    "instance-id": f.get("latest/meta-data/instance-id"),
    "user-data": f.get("latest/user-data"),
    "region": InstanceMetadataRegionFetcher(config=cfg).retrieve_region(),
}))
`

func needBotocore(t *testing.T) {
	t.Helper()
	if err := exec.Command(debianPython, "-c", "import botocore").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("botocore (Debian python3-botocore) is missing under %s: %v", debianPython, err)
		}
		t.Skipf("botocore is not installed for %s (apt-get install python3-boto3): %v", debianPython, err)
	}
}

// TestBotocore runs botocore's IMDS fetcher against both endpoint forms: it keeps the path
// prefix, and it ignores an endpoint's user (urllib3 sends no Basic authentication), so the
// path form serves it either way.
func TestBotocore(t *testing.T) {
	needBotocore(t)
	var rec seen
	h := New(testSources(), nil)
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	mux.Handle("/latest/", h)
	srv := httptest.NewServer(rec.wrap(mux))
	defer srv.Close()

	plainEP := Endpoint(srv.URL, "i-0123456789abcdef0")
	u, err := url.Parse(plainEP)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("i-0123456789abcdef0")
	for _, tc := range []struct{ name, ep string }{{"path form", plainEP}, {"user form", u.String()}} {
		ep := tc.ep
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.reqs = nil
			rec.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), sdkTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, debianPython, "-c", botocoreScript)
			cmd.Env = append(os.Environ(),
				"AWS_EC2_METADATA_SERVICE_ENDPOINT="+ep,
				"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
				"NO_PROXY=*")
			out, err := cmd.Output()
			if err != nil {
				var stderr string
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("botocore: %v\n%s", err, stderr)
			}
			var got map[string]string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("botocore output %q: %v", out, err)
			}
			want := map[string]string{"base": ep, "instance-id": "i-0123456789abcdef0",
				"user-data": "#!/bin/sh\necho hi\n", "region": "us-east-1"}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if len(rec.list()) < 4 {
				t.Errorf("requests %q: want token PUTs and GETs", rec.list())
			}
			for _, r := range rec.list() {
				if !strings.HasPrefix(r, "PUT "+Prefix) && !(strings.HasPrefix(r, "GET "+Prefix) && strings.HasSuffix(r, "+token")) {
					t.Errorf("request %q: want every request under the prefix, GETs with a token", r)
				}
			}
		})
	}
}
