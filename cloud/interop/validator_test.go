package interop

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// modelOnce loads the EC2 model once for the whole test binary.
var modelOnce = sync.OnceValues(func() (*ec2Model, error) { return loadModel(botocoreModelPath) })

// needModel gives the model, or fails (CI) or skips the test when python3-botocore is not
// installed.
func needModel(t testing.TB) *ec2Model {
	t.Helper()
	m, err := modelOnce()
	if err != nil {
		missing(t, "botocore's EC2 model (Debian python3-botocore)", err)
	}
	return m
}

// A RunInstances answer as EC2 writes it.
const goodRun = `<?xml version="1.0" encoding="UTF-8"?>
<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f2c1bd4-6b0d-4c1e-9a0e-1d4c6a0f2b11</requestId>
  <reservationId>r-0a1b2c3d4e5f60718</reservationId>
  <ownerId>111122223333</ownerId>
  <groupSet/>
  <instancesSet>
    <item>
      <instanceId>i-0a1b2c3d4e5f60718</instanceId>
      <imageId>ami-12345678</imageId>
      <instanceState><code>0</code><name>pending</name></instanceState>
      <privateDnsName/>
      <dnsName></dnsName>
      <amiLaunchIndex>0</amiLaunchIndex>
      <instanceType>m1.small</instanceType>
      <launchTime>2026-11-23T12:00:00.000Z</launchTime>
      <placement><availabilityZone>us-east-1a</availabilityZone><tenancy>default</tenancy></placement>
      <monitoring><state>disabled</state></monitoring>
      <ebsOptimized>false</ebsOptimized>
      <tagSet><item><key>Name</key><value>x</value></item></tagSet>
    </item>
  </instancesSet>
</RunInstancesResponse>`

const goodError = `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-1' does not exist</Message></Error></Errors><RequestID>8f2c1bd4-6b0d-4c1e-9a0e-1d4c6a0f2b11</RequestID></Response>`

const testRequestID = "8f2c1bd4-6b0d-4c1e-9a0e-1d4c6a0f2b11"

func TestValidator(t *testing.T) {
	m := needModel(t)
	hdr := http.Header{"X-Amzn-Requestid": {testRequestID}}
	tests := []struct {
		name     string
		action   string
		version  string
		status   int
		header   http.Header
		noReqID  bool // the flavor sends no <requestId> (Nimbus, Eucalyptus)
		body     string
		want     []string // substrings of problems; none means the response is valid
		wantNote string
	}{
		{name: "good RunInstances", action: "RunInstances", body: goodRun},
		{name: "good error", action: "RunInstances", status: 400, body: goodError},
		{name: "CreateTags return", action: "CreateTags",
			body: `<CreateTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>` + testRequestID + `</requestId><return>true</return></CreateTagsResponse>`},
		{name: "older version echoed", action: "DescribeRegions", version: "2014-10-01",
			body: `<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2014-10-01/"><requestId>` + testRequestID + `</requestId><regionInfo><item><regionName>us-east-1</regionName><regionEndpoint>h</regionEndpoint></item></regionInfo></DescribeRegionsResponse>`},
		{name: "Nimbus: no requestId wanted", action: "DescribeKeyPairs", noReqID: true,
			body: `<DescribeKeyPairsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><keySet/></DescribeKeyPairsResponse>`},
		{name: "prefixed elements with a declared prefix", action: "DescribeKeyPairs", noReqID: true,
			body: `<euca:DescribeKeyPairsResponse xmlns:euca="http://ec2.amazonaws.com/doc/2016-11-15/"><euca:keySet><euca:item><euca:keyName>k</euca:keyName></euca:item></euca:keySet></euca:DescribeKeyPairsResponse>`},
		{name: "enum outside the model is a note", action: "RunInstances",
			body:     strings.Replace(goodRun, "<name>pending</name>", "<name>shutoff</name>", 1),
			wantNote: `"shutoff" is not in the model's enum`},

		{name: "misspelt list", action: "RunInstances", body: strings.ReplaceAll(goodRun, "instancesSet>", "instanceSet>"),
			want: []string{"/instanceSet: not a member of Reservation", "did you mean <instancesSet>?"}},
		{name: "wrong list item", action: "RunInstances", body: strings.Replace(goodRun, "<item><key>Name</key><value>x</value></item>", "<member><key>Name</key><value>x</value></member>", 1),
			want: []string{"/instancesSet/item/tagSet/member: list items of TagList must be <item>"}},
		{name: "non-integer integer", action: "RunInstances", body: strings.Replace(goodRun, "<code>0</code>", "<code>pending</code>", 1),
			want: []string{`/instancesSet/item/instanceState/code: "pending" is not an integer`}},
		{name: "empty integer", action: "RunInstances", body: strings.Replace(goodRun, "<amiLaunchIndex>0</amiLaunchIndex>", "<amiLaunchIndex/>", 1),
			want: []string{`/instancesSet/item/amiLaunchIndex: "" is not an integer`}},
		{name: "non-boolean boolean", action: "RunInstances", body: strings.Replace(goodRun, "<ebsOptimized>false</ebsOptimized>", "<ebsOptimized>0</ebsOptimized>", 1),
			want: []string{`/instancesSet/item/ebsOptimized: "0" is not a boolean`}},
		{name: "bad timestamp", action: "RunInstances", body: strings.Replace(goodRun, "2026-11-23T12:00:00.000Z", "Mon Nov 23 12:00:00 UTC 2026", 1),
			want: []string{`/instancesSet/item/launchTime: "Mon Nov 23 12:00:00 UTC 2026" is not an ISO 8601 timestamp`}},
		{name: "timestamp without zone", action: "RunInstances", body: strings.Replace(goodRun, "2026-11-23T12:00:00.000Z", "2026-11-23T12:00:00", 1),
			want: []string{`launchTime: "2026-11-23T12:00:00" is not an ISO 8601 timestamp`}},
		{name: "namespace without trailing slash", action: "RunInstances", body: strings.Replace(goodRun, "2016-11-15/", "2016-11-15", 1),
			want: []string{`namespace "http://ec2.amazonaws.com/doc/2016-11-15" is not`}},
		{name: "namespace not echoing the version", action: "RunInstances", version: "2014-10-01", body: goodRun,
			want: []string{"does not echo the request's Version 2014-10-01"}},
		{name: "no namespace", action: "RunInstances", body: strings.Replace(goodRun, ` xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`, "", 1),
			want: []string{"root has no namespace"}},
		{name: "undeclared prefix", action: "DescribeKeyPairs", noReqID: true,
			body: `<euca:DescribeKeyPairsResponse><euca:keySet/></euca:DescribeKeyPairsResponse>`,
			want: []string{`prefix "euca" is not declared`}},
		{name: "wrong root", action: "TerminateInstances", body: goodRun,
			want: []string{"root <RunInstancesResponse> should be <TerminateInstancesResponse>"}},
		{name: "missing requestId", action: "RunInstances", body: strings.Replace(goodRun, "<requestId>"+testRequestID+"</requestId>", "", 1),
			want: []string{"no <requestId> in the body"}},
		{name: "requestId where the flavor has none", action: "RunInstances", noReqID: true, body: goodRun,
			want: []string{"<requestId> in the body, which this flavor"}},
		{name: "requestId differs from the header", action: "RunInstances", header: http.Header{"X-Amzn-Requestid": {"other"}}, body: goodRun,
			want: []string{`differs from the x-amzn-RequestId header "other"`}},
		{name: "no request id header", action: "RunInstances", header: http.Header{}, body: goodRun,
			want: []string{"no x-amzn-RequestId header"}},
		{name: "scalar holding elements", action: "RunInstances", body: strings.Replace(goodRun, "<imageId>ami-12345678</imageId>", "<imageId><id>ami-12345678</id></imageId>", 1),
			want: []string{"/instancesSet/item/imageId: string String holds elements"}},
		{name: "repeated member", action: "RunInstances", body: strings.Replace(goodRun, "<ownerId>111122223333</ownerId>", "<ownerId>1</ownerId><ownerId>2</ownerId>", 1),
			want: []string{"/ownerId: appears twice"}},
		{name: "output for an operation without one", action: "CreateTags",
			body: `<CreateTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>` + testRequestID + `</requestId><tagSet/></CreateTagsResponse>`,
			want: []string{"/tagSet: CreateTags has no output in the model"}},
		{name: "not XML", action: "RunInstances", body: "<html><body>500 Internal Server Error", want: []string{"not well-formed XML"}},
		{name: "unknown action", action: "LaunchRocket", body: `<LaunchRocketResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"/>`,
			want: []string{`action "LaunchRocket" is not an operation`}},

		{name: "error with success root", action: "RunInstances", status: 400, body: goodRun,
			want: []string{"error root <RunInstancesResponse> should be <Response>"}},
		{name: "error with RequestId", action: "RunInstances", status: 400, body: strings.ReplaceAll(goodError, "RequestID>", "RequestId>"),
			want: []string{"<RequestId> in an error document: EC2 spells it <RequestID>"}},
		{name: "error without Errors", action: "RunInstances", status: 503,
			body: `<Response><Error><Code>RequestLimitExceeded</Code><Message>m</Message></Error><RequestID>x</RequestID></Response>`,
			want: []string{"<Response>/<Error>: not part of", "has 0 <Errors>"}},
		{name: "error without Code", action: "RunInstances", status: 400,
			body: `<Response><Errors><Error><Message>m</Message></Error></Errors><RequestID>x</RequestID></Response>`,
			want: []string{"<Error> has 0 <Code> and 1 <Message>"}},
		{name: "error with a 3xx status", action: "RunInstances", status: 302, body: goodError,
			want: []string{"HTTP 302 is neither success nor an error status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := exchange{Action: tt.action, Version: tt.version, Status: tt.status, Header: tt.header, Body: []byte(tt.body)}
			if ex.Status == 0 {
				ex.Status = 200
			}
			if ex.Header == nil {
				ex.Header = hdr
			}
			rep := m.validate(ex, expectations{requestID: !tt.noReqID})
			if len(tt.want) == 0 && len(rep.problems) > 0 {
				t.Errorf("problems in a valid response:\n  %s", strings.Join(rep.problems, "\n  "))
			}
			for _, w := range tt.want {
				if !containsSubstring(rep.problems, w) {
					t.Errorf("no problem containing %q; got:\n  %s", w, strings.Join(rep.problems, "\n  "))
				}
			}
			if tt.wantNote != "" && !containsSubstring(rep.notes, tt.wantNote) {
				t.Errorf("no note containing %q; got %q", tt.wantNote, rep.notes)
			}
		})
	}
}

func containsSubstring(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"instancesSet", "instanceSet", 1}, {"kitten", "sitting", 3}, {"keySet", "keyset", 1}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

// FuzzValidate runs the validator on arbitrary bodies: it parses untrusted XML, so it must
// never panic or recurse without bound, whatever a broken server sends.
func FuzzValidate(f *testing.F) {
	m := needModel(f)
	f.Add("RunInstances", 200, []byte(goodRun))
	f.Add("RunInstances", 400, []byte(goodError))
	f.Add("DescribeKeyPairs", 200, []byte(`<euca:DescribeKeyPairsResponse xmlns:euca="http://ec2.amazonaws.com/doc/2016-11-15/"><euca:keySet/></euca:DescribeKeyPairsResponse>`))
	f.Add("CreateTags", 200, []byte(`<CreateTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><return>x</return></CreateTagsResponse>`))
	f.Fuzz(func(t *testing.T, action string, status int, body []byte) {
		ex := exchange{Action: action, Status: status, Header: http.Header{}, Body: body}
		m.validate(ex, expectations{requestID: true})
		m.validate(ex, expectations{requestID: false})
	})
}
