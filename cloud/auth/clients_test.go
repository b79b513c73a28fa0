package auth

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
)

// clientTimeout bounds one run of a real client; generous, since a cold Python with
// botocore takes seconds on a loaded machine. It is a bound, not an expectation.
const clientTimeout = 2 * time.Minute

// boto2Script calls DescribeRegions with boto 2: argv is port, "v4" or "v2" (forcing
// Signature Version 2 the way the reference does), secret, verb, path. Pointed at
// 127.0.0.1 without auth_region_name, boto 2 signs with the scope region "0", service
// "127", which the server must accept.
const boto2Script = `
import sys
from boto.ec2.connection import EC2Connection
from boto.ec2.regioninfo import RegionInfo
port, mode, secret, verb, path = sys.argv[1:6]
cls = EC2Connection
if mode == "v2":
    class V2(EC2Connection):
        def _required_auth_capability(self):
            return ["ec2"]
    cls = V2
conn = cls(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key=secret, is_secure=False,
           region=RegionInfo(name="us-east-1", endpoint="127.0.0.1"), port=int(port), path=path)
print(conn.get_list("DescribeRegions", {}, [("item", RegionInfo)], verb=verb))
`

// boto3Script calls DescribeRegions with boto3: argv is endpoint URL, secret.
const boto3Script = `
import sys, boto3
from botocore.config import Config
c = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key=sys.argv[2],
                 config=Config(retries={"max_attempts": 1}))
print(c.describe_regions()["Regions"])
`

// TestRealClients has the EC2 clients people use sign requests for the test server:
// Debian's boto 2, boto3 and AWS CLI (run as /usr/bin/python3 and /usr/bin/aws, which
// .ci/run installs), and aws-sdk-go-v2's EC2 client. A missing Debian client fails the
// test under CI=true and skips it otherwise.
func TestRealClients(t *testing.T) {
	type client struct {
		name    string
		needs   string                                      // what must be installed: "boto", "boto3", "aws", or "" (Go)
		run     func(t *testing.T, base, port string) error // one call against the server
		wantErr bool                                        // the call must fail with AuthFailure
		scope   string                                      // a substring the Authorization header must carry
		v2      bool                                        // signed with Signature Version 2: no Authorization header
	}
	py := func(script string, args ...string) func(t *testing.T, base, port string) error {
		return func(t *testing.T, base, port string) error {
			return runClient(t, "/usr/bin/python3", append([]string{"-c", script}, args...), nil)
		}
	}
	boto2 := func(mode, secret, verb, path string) func(t *testing.T, base, port string) error {
		return func(t *testing.T, base, port string) error {
			return py(boto2Script, port, mode, secret, verb, path)(t, base, port)
		}
	}
	boto3 := func(path, secret string) func(t *testing.T, base, port string) error {
		return func(t *testing.T, base, port string) error {
			return py(boto3Script, base+path, secret)(t, base, port)
		}
	}
	goSDK := func(path, secret string) func(t *testing.T, base, port string) error {
		return func(t *testing.T, base, port string) error {
			c := ec2.New(ec2.Options{
				Region:           "us-east-1",
				BaseEndpoint:     aws.String(base + path),
				RetryMaxAttempts: 1,
				Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: testID, SecretAccessKey: secret}, nil
				}),
			})
			ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
			defer cancel()
			_, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() != CodeAuthFailure {
				t.Errorf("the SDK parsed error code %q, want %s", ae.ErrorCode(), CodeAuthFailure)
			}
			return err
		}
	}
	clients := []client{
		{name: "boto2 v4 POST at an IP address", needs: "boto", run: boto2("v4", testSecret, "POST", "/"), scope: "/0/127/aws4_request"},
		{name: "boto2 v4 GET at an IP address", needs: "boto", run: boto2("v4", testSecret, "GET", "/"), scope: "/0/127/aws4_request"},
		{name: "boto2 v4 POST to a path", needs: "boto", run: boto2("v4", testSecret, "POST", "/services/Cloud"), scope: "/0/127/aws4_request"},
		{name: "boto2 v2 POST", needs: "boto", run: boto2("v2", testSecret, "POST", "/"), v2: true},
		{name: "boto2 v2 GET", needs: "boto", run: boto2("v2", testSecret, "GET", "/"), v2: true},
		{name: "boto2 v2 POST to a path", needs: "boto", run: boto2("v2", testSecret, "POST", "/services/Cloud/"), v2: true},
		{name: "boto2 v4 wrong secret", needs: "boto", run: boto2("v4", otherSecret, "POST", "/"), wantErr: true},
		{name: "boto2 v2 wrong secret", needs: "boto", run: boto2("v2", otherSecret, "POST", "/"), wantErr: true, v2: true},
		{name: "boto3", needs: "boto3", run: boto3("/", testSecret), scope: "/us-east-1/ec2/aws4_request"},
		{name: "boto3 to a path", needs: "boto3", run: boto3("/services/Cloud", testSecret)},
		{name: "boto3 wrong secret", needs: "boto3", run: boto3("/", otherSecret), wantErr: true},
		{name: "aws cli", needs: "aws", run: func(t *testing.T, base, port string) error {
			return runClient(t, "/usr/bin/aws", []string{"--endpoint-url", base, "ec2", "describe-regions"},
				[]string{"AWS_ACCESS_KEY_ID=" + testID, "AWS_SECRET_ACCESS_KEY=" + testSecret, "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1"})
		}},
		{name: "aws-sdk-go-v2 ec2", run: goSDK("", testSecret), scope: "/us-east-1/ec2/aws4_request"},
		{name: "aws-sdk-go-v2 ec2 to a path", run: goSDK("/services/Cloud", testSecret)},
		{name: "aws-sdk-go-v2 ec2 wrong secret", run: goSDK("", otherSecret), wantErr: true},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			requireClient(t, c.needs)
			s := newTestServer(t, time.Now)
			port := s.Listener.Addr().String()[strings.LastIndex(s.Listener.Addr().String(), ":")+1:]
			err := c.run(t, s.URL, port)
			rs := s.take()
			if len(rs) == 0 {
				t.Fatalf("the client sent nothing (its error: %v)", err)
			}
			for _, r := range rs {
				if c.wantErr {
					wantResult(t, r, "", CodeAuthFailure, "signature does not match")
				} else {
					wantResult(t, r, testID, "", "")
				}
				if c.v2 && r.authz != "" {
					t.Errorf("a Signature Version 2 client sent Authorization %q", r.authz)
				}
				if c.scope != "" && !strings.Contains(r.authz, c.scope) {
					t.Errorf("Authorization %q does not carry %q", r.authz, c.scope)
				}
			}
			if c.wantErr != (err != nil) {
				t.Fatalf("client error = %v, want error: %v", err, c.wantErr)
			}
		})
	}
}

// requireClient skips the test when a Debian client is missing, or fails it under CI,
// where .ci/run installs them.
func requireClient(t *testing.T, needs string) {
	t.Helper()
	var err error
	switch needs {
	case "":
		return
	case "boto", "boto3":
		err = exec.Command("/usr/bin/python3", "-c", "import "+needs).Run()
	case "aws":
		_, err = os.Stat("/usr/bin/aws")
	}
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (.ci/run installs it): %v", needs, err)
	}
	t.Skipf("%s is not installed (apt-get install python3-boto python3-boto3 awscli): %v", needs, err)
}

// runClient runs a client program with a clean environment (no proxy, no AWS
// configuration from this machine) plus env, and returns its failure with its output.
func runClient(t *testing.T, prog string, args, env []string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	home := t.TempDir()
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8", "BOTO_CONFIG=/dev/null",
		"AWS_CONFIG_FILE=" + home + "/config", "AWS_SHARED_CREDENTIALS_FILE=" + home + "/credentials"}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &clientError{err: err, output: string(out)}
	}
	t.Logf("%s: %s", prog, strings.TrimSpace(string(out)))
	return nil
}

type clientError struct {
	err    error
	output string
}

func (e *clientError) Error() string { return e.err.Error() + ": " + lastLines(e.output, 3) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
