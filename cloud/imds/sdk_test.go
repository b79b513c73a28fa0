package imds

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	sdkimds "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// sdkTimeout bounds each SDK call; generous, it only keeps a broken server from hanging
// the test.
const sdkTimeout = 30 * time.Second

// seen records what reached the server: method, path and whether a token came with it.
type seen struct {
	mu   sync.Mutex
	reqs []string
}

func (s *seen) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := ""
		if r.Header.Get(headerToken) != "" {
			tok = " +token"
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Method+" "+r.URL.Path+tok)
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (s *seen) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

func sdkClient(endpoint string) *sdkimds.Client {
	return sdkimds.New(sdkimds.Options{Endpoint: endpoint})
}

func sdkRead(ctx context.Context, c *sdkimds.Client) (id, userData string, err error) {
	md, err := c.GetMetadata(ctx, &sdkimds.GetMetadataInput{Path: "instance-id"})
	if err != nil {
		return "", "", err
	}
	b, err := io.ReadAll(md.Content)
	md.Content.Close()
	if err != nil {
		return "", "", err
	}
	ud, err := c.GetUserData(ctx, &sdkimds.GetUserDataInput{})
	if err != nil {
		return string(b), "", err
	}
	u, err := io.ReadAll(ud.Content)
	ud.Content.Close()
	return string(b), string(u), err
}

// TestAWSSDKGoV2DropsPathPrefix pins what aws-sdk-go-v2's IMDS client does with an endpoint
// that has a path: it replaces the path with "/latest/..." (its serializer sets URL.Path
// outright), so with the handler mounted only at Prefix it does not reach the instance: the
// cloud must also mount it at "/latest/" (see TestAWSSDKGoV2BasicAuthForm). If this test
// starts failing because the SDK keeps the prefix, that second mount can go.
func TestAWSSDKGoV2DropsPathPrefix(t *testing.T) {
	var rec seen
	mux := http.NewServeMux()
	mux.Handle(Prefix, New(testSources(), nil))
	srv := httptest.NewServer(rec.wrap(mux))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), sdkTimeout)
	defer cancel()
	_, _, err := sdkRead(ctx, sdkClient(Endpoint(srv.URL, "i-0123456789abcdef0")))
	if err == nil {
		t.Fatalf("the SDK reached the instance through the path prefix; requests: %q", rec.list())
	}
	for _, r := range rec.list() {
		if strings.Contains(r, Prefix) {
			t.Fatalf("the SDK kept the path prefix (%q); update the docs", r)
		}
	}
	if len(rec.list()) == 0 {
		t.Fatal("no request reached the server")
	}
	t.Logf("the SDK dropped the prefix: %q", rec.list())
}

// TestAWSSDKGoV2BasicAuthForm is the working form for aws-sdk-go-v2: the instance id as the
// endpoint's user (net/http sends it as Basic authentication, which survives the SDK's path
// rewrite) and the handler mounted at "/latest/" as well. It reads instance-id and user-data
// through IMDSv2: a token PUT first, then GETs carrying the token.
func TestAWSSDKGoV2BasicAuthForm(t *testing.T) {
	var rec seen
	h := New(testSources(), nil)
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	mux.Handle("/latest/", h)
	srv := httptest.NewServer(rec.wrap(mux))
	defer srv.Close()

	u, err := url.Parse(Endpoint(srv.URL, "i-0123456789abcdef0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sdkTimeout)
	defer cancel()
	id, ud, err := sdkRead(ctx, sdkClient(u.String()))
	if err != nil {
		t.Fatalf("SDK read: %v (requests %q)", err, rec.list())
	}
	if id != "i-0123456789abcdef0" || ud != "#!/bin/sh\necho hi\n" {
		t.Errorf("SDK read instance-id %q, user-data %q", id, ud)
	}
	want := []string{
		"PUT /latest/api/token",
		"GET /latest/meta-data/instance-id +token",
		"GET /latest/user-data +token",
	}
	if got := rec.list(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q, want %q", got, want)
	}

	// The identity document through the SDK's own decoder.
	doc, err := sdkClient(u.String()).GetInstanceIdentityDocument(ctx, &sdkimds.GetInstanceIdentityDocumentInput{})
	if err != nil {
		t.Fatalf("identity document: %v", err)
	}
	if doc.InstanceID != "i-0123456789abcdef0" || doc.Region != "us-east-1" || doc.PrivateIP != "10.0.0.5" {
		t.Errorf("identity document %+v", doc.InstanceIdentityDocument)
	}
	region, err := sdkClient(u.String()).GetRegion(ctx, &sdkimds.GetRegionInput{})
	if err != nil || region.Region != "us-east-1" {
		t.Errorf("GetRegion = %v, %v", region, err)
	}
}

// TestAWSSDKGoV2FromEnvironment is how a Go program in an instance finds the service: the
// shared config reads AWS_EC2_METADATA_SERVICE_ENDPOINT, userinfo and all.
func TestAWSSDKGoV2FromEnvironment(t *testing.T) {
	h := New(testSources(), nil)
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	mux.Handle("/latest/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	u, err := url.Parse(Endpoint(srv.URL, "i-bare"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", u.String())
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	ctx, cancel := context.WithTimeout(context.Background(), sdkTimeout)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := sdkimds.NewFromConfig(cfg).GetMetadata(ctx, &sdkimds.GetMetadataInput{Path: "instance-id"})
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	defer md.Content.Close()
	if b, _ := io.ReadAll(md.Content); string(b) != "i-bare" {
		t.Errorf("instance-id %q", b)
	}
}
