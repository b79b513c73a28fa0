package cloud

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestFlavorsDetectedAsThemselves(t *testing.T) {
	for _, c := range []struct {
		flavor, want, server, decl string
		requestID                  bool
	}{
		{FlavorAWS, "Amazon", "AmazonEC2", declWithEncoding, true},
		{FlavorOpenStack, "OpenStack", "", declBare, true},
		{FlavorNimbus, "Nimbus", "Jetty", declWithEncoding, false},
		{FlavorEucalyptus, "Eucalyptus", "", "", false},
	} {
		t.Run(c.flavor, func(t *testing.T) {
			tc := newTestCloud(t, func(cfg *Config) { cfg.Flavor = c.flavor })
			tc.ok("CreateKeyPair", "KeyName", "k")
			r := tc.ok("DescribeKeyPairs")
			if got := serverType(r.header, r.body); got != c.want {
				t.Errorf("detected as %s, want %s; headers %v body %s", got, c.want, r.header, r.body)
			}
			if got := r.header.Get("Server"); !strings.HasPrefix(got, c.server) || (c.server == "" && got != "") {
				t.Errorf("Server %q", got)
			}
			if c.decl != "" && !strings.HasPrefix(string(r.body), c.decl+"\n<") {
				t.Errorf("declaration: %.80s", r.body)
			}
			if c.decl == "" && strings.HasPrefix(string(r.body), "<?xml") {
				t.Errorf("declaration present: %.80s", r.body)
			}
			if got := strings.Contains(string(r.body), "<requestId>"); got != c.requestID {
				t.Errorf("requestId present %v, want %v", got, c.requestID)
			}
			// Whatever the dress, namespace-aware parsers see the same document.
			if r.root.XMLName.Space != "http://ec2.amazonaws.com/doc/2016-11-15/" || r.root.get("keySet/item/keyName") != "k" {
				t.Errorf("parsed: %s", r.body)
			}
			// Errors are EC2's envelope in every flavor, with the flavor's declaration.
			e := tc.fails(http.StatusBadRequest, "InvalidKeyPair.NotFound", "DescribeKeyPairs", "KeyName.1", "nope")
			if c.decl == "" && strings.HasPrefix(string(e.body), "<?xml") || c.decl != "" && !strings.HasPrefix(string(e.body), c.decl) {
				t.Errorf("error declaration: %.80s", e.body)
			}
		})
	}
}

func TestProtocol(t *testing.T) {
	tc := newTestCloud(t)
	tc.ok("CreateKeyPair", "KeyName", "k")

	// GET with the query string, at a path (Eucalyptus/OpenStack-style endpoints), old version.
	q := url.Values{"Action": {"DescribeKeyPairs"}, "Version": {"2009-11-30"}, "KeyName.1": {"k"}}
	req, _ := http.NewRequest(http.MethodGet, tc.url+"/services/Cloud?"+q.Encode(), nil)
	signRequest(t, req, nil, alice)
	r := tc.send(req, "DescribeKeyPairs")
	if r.status != http.StatusOK || r.root.XMLName.Space != "http://ec2.amazonaws.com/doc/2009-11-30/" || r.root.get("keySet/item/keyName") != "k" {
		t.Errorf("GET: %s", r)
	}
	if r.root.get("requestId") != r.header.Get("x-amzn-RequestId") {
		t.Errorf("requestId %q, header %q", r.root.get("requestId"), r.header.Get("x-amzn-RequestId"))
	}

	post := func(acct Account, body string, contentType string) *response {
		req, _ := http.NewRequest(http.MethodPost, tc.url+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		signRequest(t, req, []byte(body), acct)
		return tc.send(req, "")
	}
	const form = "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name, body string
		acct       Account
		status     int
		code       string
	}{
		{"unknown action", "Action=LaunchRocket&Version=2016-11-15", alice, 400, "InvalidAction"},
		{"no action", "Version=2016-11-15", alice, 400, "MissingAction"},
		{"bad version", "Action=DescribeKeyPairs&Version=latest", alice, 400, "NoSuchVersion"},
		{"bad secret", "Action=DescribeKeyPairs&Version=2016-11-15", Account{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "wrong"}, 401, "AuthFailure"},
		{"unknown key", "Action=DescribeKeyPairs&Version=2016-11-15", Account{AccessKeyID: "AKIANOBODY", SecretAccessKey: "x"}, 401, "AuthFailure"},
		{"malformed form", "Action=DescribeKeyPairs&Version=%zz", alice, 400, "MalformedQueryString"},
		{"dry run", "Action=DescribeKeyPairs&Version=2016-11-15&DryRun=true", alice, 412, "DryRunOperation"},
		{"too big", "Action=DescribeKeyPairs&Version=2016-11-15&Pad=" + strings.Repeat("x", maxRequestBytes), alice, 413, "RequestEntityTooLarge"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := post(c.acct, c.body, form)
			if r.status != c.status || r.code() != c.code {
				t.Errorf("want %d %s, got %s", c.status, c.code, r)
			}
		})
	}
	// No signature at all.
	req, _ = http.NewRequest(http.MethodPost, tc.url+"/", strings.NewReader("Action=DescribeKeyPairs"))
	req.Header.Set("Content-Type", form)
	if r := tc.send(req, ""); r.status != 401 || r.code() != "AuthFailure" {
		t.Errorf("unsigned: %s", r)
	}
}

func TestAccountIsolation(t *testing.T) {
	tc := newTestCloud(t)
	tc.ok("CreateKeyPair", "KeyName", "shared-name")
	mine := tc.run(1, "KeyName", "shared-name")[0]
	tc.ok("CreateTags", "ResourceId.1", mine, "Tag.1.Key", "owner", "Tag.1.Value", "alice")

	// Bob sees none of it and can touch none of it.
	for _, c := range []struct {
		action string
		args   []string
		code   string
	}{
		{"DescribeInstances", []string{"InstanceId.1", mine}, "InvalidInstanceID.NotFound"},
		{"TerminateInstances", []string{"InstanceId.1", mine}, "InvalidInstanceID.NotFound"},
		{"StopInstances", []string{"InstanceId.1", mine}, "InvalidInstanceID.NotFound"},
		{"StartInstances", []string{"InstanceId.1", mine}, "InvalidInstanceID.NotFound"},
		{"CreateTags", []string{"ResourceId.1", mine, "Tag.1.Key", "x"}, "InvalidInstanceID.NotFound"},
		{"DeleteTags", []string{"ResourceId.1", mine}, "InvalidInstanceID.NotFound"},
		{"DescribeKeyPairs", []string{"KeyName.1", "shared-name"}, "InvalidKeyPair.NotFound"},
		{"RunInstances", []string{"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1", "KeyName", "shared-name"}, "InvalidKeyPair.NotFound"},
	} {
		if r := tc.doAs(bob, c.action, c.args...); r.code() != c.code {
			t.Errorf("bob %s: want %s, got %s", c.action, c.code, r)
		}
	}
	for _, action := range []string{"DescribeInstances", "DescribeKeyPairs", "DescribeTags"} {
		r := tc.doAs(bob, action)
		if r.status != http.StatusOK || r.root.has("reservationSet/item") || r.root.has("keySet/item") || r.root.has("tagSet/item") {
			t.Errorf("bob %s: %s", action, r)
		}
	}
	// Bob's key of the same name is his own; deleting it leaves alice's.
	tc.doAs(bob, "CreateKeyPair", "KeyName", "shared-name")
	tc.doAs(bob, "DeleteKeyPair", "KeyName", "shared-name")
	tc.ok("DescribeKeyPairs", "KeyName.1", "shared-name")
	if got := tc.instance(mine).get("instanceState/name"); got == "shutting-down" || got == "terminated" {
		t.Errorf("bob's calls changed alice's instance: %s", got)
	}
}

func TestAdminEndpoints(t *testing.T) {
	tc := newTestCloud(t)
	tc.run(2)
	tc.run(1)
	tc.doAs(bob, "RunInstances", "ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1")
	tc.do("LaunchRocket")
	resp, err := http.Get(tc.url + "/_admin/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var doc struct {
		Actions   map[string]struct{ Calls int64 }
		Instances map[string]int
		ByAccount map[string]map[string]int `json:"instances_by_account"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("stats: %v: %s", err, data)
	}
	if doc.Actions["RunInstances"].Calls != 3 {
		t.Errorf("RunInstances calls %d: %s", doc.Actions["RunInstances"].Calls, data)
	}
	live := doc.Instances["pending"] + doc.Instances["running"]
	if live != 4 || doc.ByAccount["alice"]["pending"]+doc.ByAccount["alice"]["running"] != 3 ||
		doc.ByAccount["bob"]["pending"]+doc.ByAccount["bob"]["running"] != 1 {
		t.Errorf("instance counts: %s", data)
	}
	resp, err = http.Get(tc.url + "/_admin/faults")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("faults endpoint: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestRequestSignedWithOddScopeIsServed(t *testing.T) {
	// boto 2 pointed at an IP address signs with the scope 0/127: verification uses the
	// request's own scope.
	tc := newTestCloud(t)
	body := "Action=DescribeKeyPairs&Version=2014-10-01"
	req, _ := http.NewRequest(http.MethodPost, tc.url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	sum := sha256.Sum256([]byte(body))
	signScoped(t, req, hex.EncodeToString(sum[:]), alice, "0", "127")
	if r := tc.send(req, "DescribeKeyPairs"); r.status != http.StatusOK {
		t.Errorf("%s", r)
	}
}

// TestConcurrentClients: clients of two accounts launching, tagging, describing and
// terminating at once (run with -race); every instance ends terminated, each account
// sees exactly its own.
func TestConcurrentClients(t *testing.T) {
	tc := newTestCloud(t)
	const workers, rounds = 6, 8
	var wg sync.WaitGroup
	errs := make(chan string, workers*rounds*4)
	for w := range workers {
		acct := alice
		if w%2 == 1 {
			acct = bob
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				run := tc.doAs(acct, "RunInstances", "ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "3",
					"ClientToken", fmt.Sprintf("w%d-r%d", w, r))
				if run.status != http.StatusOK {
					errs <- run.String()
					return
				}
				ids := run.root.texts("instancesSet/item/instanceId")
				if r := tc.doAs(acct, "CreateTags", "ResourceId.1", ids[0], "Tag.1.Key", "w", "Tag.1.Value", fmt.Sprint(w)); r.status != http.StatusOK {
					errs <- r.String()
				}
				if r := tc.doAs(acct, "DescribeInstances", "MaxResults", "5"); r.status != http.StatusOK {
					errs <- r.String()
				}
				args := []string{}
				for i, id := range ids {
					args = append(args, fmt.Sprintf("InstanceId.%d", i+1), id)
				}
				if r := tc.doAs(acct, "TerminateInstances", args...); r.status != http.StatusOK {
					errs <- r.String()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for _, acct := range []Account{alice, bob} {
		r := tc.doAs(acct, "DescribeInstances")
		items := r.root.all("reservationSet/item/instancesSet/item")
		if len(items) != workers/2*rounds*3 {
			t.Errorf("%s sees %d instances, want %d", acct.Name, len(items), workers/2*rounds*3)
		}
		for _, in := range items {
			if s := in.get("instanceState/name"); s != "shutting-down" && s != "terminated" {
				t.Errorf("%s: instance %s", acct.Name, s)
			}
		}
	}
}
