package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// flavorServerTypes maps the servers `ec2grid cloud` imitates to the name HTCondor's
// server-type ping (htcondor-ec2.md §2.8) must give each.
func flavorServerTypes() map[string]string {
	return map[string]string{
		"aws":        "Amazon",
		"openstack":  "OpenStack",
		"nimbus":     "Nimbus",
		"eucalyptus": "Eucalyptus",
	}
}

// Instance state codes (the low byte of EC2's instanceState/code). The scenarios compare
// codes, not names, because OpenStack's flavor names the stopped state "shutoff".
const (
	codePending    = 0
	codeRunning    = 16
	codeShutting   = 32
	codeTerminated = 48
	codeStopped    = 80
)

// goClient is an aws-sdk-go-v2 EC2 client for the cloud with the given keys. It makes one
// attempt per call: no fault is injected, so a retry could only hide a server error.
func goClient(c *cloudProc, key, secret string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(c.url),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// apiCode is the EC2 error code of err, or "" if err is not an API error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantCode fails unless err is the EC2 error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := apiCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %s", what, err, got, code)
	}
}

// testCtx is a context bounded generously for one subtest's calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	t.Cleanup(cancel)
	return ctx
}

// describeOne describes one instance by id.
func describeOne(ctx context.Context, cli *ec2.Client, id string) (types.Instance, error) {
	out, err := cli.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return types.Instance{}, err
	}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			if aws.ToString(in.InstanceId) == id {
				return in, nil
			}
		}
	}
	return types.Instance{}, errors.New("DescribeInstances answered without the instance")
}

// waitCode polls until the instance's state code is code.
func waitCode(t *testing.T, ctx context.Context, cli *ec2.Client, id string, code int32) types.Instance {
	t.Helper()
	deadline := time.Now().Add(stateTimeout)
	var last string
	for time.Now().Before(deadline) {
		in, err := describeOne(ctx, cli, id)
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		if in.State != nil && aws.ToInt32(in.State.Code)&0xff == code {
			return in
		}
		if in.State != nil {
			last = string(in.State.Name)
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("instance %s still %q after %v, want state code %d", id, last, stateTimeout, code)
	return types.Instance{}
}

// ids lists the instance ids in a DescribeInstances answer.
func ids(out *ec2.DescribeInstancesOutput) []string {
	var s []string
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			s = append(s, aws.ToString(in.InstanceId))
		}
	}
	return s
}

// TestGoSDK runs the scenario with aws-sdk-go-v2 against every flavor.
func TestGoSDK(t *testing.T) {
	t.Parallel()
	for flavor := range flavorServerTypes() {
		t.Run(flavor, func(t *testing.T) {
			t.Parallel()
			c := startCloud(t, flavor)
			cli := goClient(c, c.accessKey, c.secretKey)
			t.Run("servertype", func(t *testing.T) { goServerType(t, c, cli) })
			t.Run("instances", func(t *testing.T) { goInstances(t, c, cli) })
			t.Run("idempotency", func(t *testing.T) { goIdempotency(t, c, cli) })
			t.Run("keypairs", func(t *testing.T) { goKeyPairs(t, cli) })
			t.Run("spot", func(t *testing.T) { goSpot(t, cli) })
			t.Run("isolation", func(t *testing.T) { goIsolation(t, c, cli) })
		})
	}
}

// serverType is HTCondor's EC2_VM_SERVER_TYPE heuristic (htcondor-ec2.md §2.8) applied to
// a DescribeKeyPairs answer.
func serverType(h http.Header, body []byte) string {
	server := h.Get("Server")
	amazon := strings.Contains(server, "AmazonEC2")
	jetty := strings.Contains(server, "Jetty")
	xmlDecl := bytes.Contains(body, []byte("<?xml "))
	encoding := bytes.Contains(body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`))
	requestID := bytes.Contains(body, []byte("<requestId>"))
	euca := bytes.Contains(body, []byte("<euca:Describe"))
	switch {
	case amazon && !jetty && xmlDecl && encoding && requestID && !euca:
		return "Amazon"
	case !amazon && !jetty && requestID && !euca && !encoding:
		return "OpenStack"
	case jetty && xmlDecl && encoding && !requestID:
		return "Nimbus"
	case !xmlDecl && !requestID && euca:
		return "Eucalyptus"
	}
	return "Unknown"
}

func goServerType(t *testing.T, c *cloudProc, cli *ec2.Client) {
	ctx := testCtx(t)
	if _, err := cli.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{}); err != nil {
		t.Fatalf("DescribeKeyPairs: %v", err)
	}
	ex, ok := c.rec.last("DescribeKeyPairs")
	if !ok {
		t.Fatal("the proxy saw no DescribeKeyPairs")
	}
	if got, want := serverType(ex.Header, ex.Body), flavorServerTypes()[c.flavor]; got != want {
		t.Errorf("HTCondor's server-type heuristic says %s for flavor %s, want %s (Server %q, body %.120q)",
			got, c.flavor, want, ex.Header.Get("Server"), ex.Body)
	}
}

func goInstances(t *testing.T, c *cloudProc, cli *ec2.Client) {
	ctx := testCtx(t)
	run, err := cli.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId:      aws.String(testImage),
		InstanceType: types.InstanceTypeM1Small,
		MinCount:     aws.Int32(1),
		MaxCount:     aws.Int32(1),
		// aws-sdk-go-v2 does not base64-encode UserData itself (boto does).
		UserData: aws.String(base64.StdEncoding.EncodeToString([]byte("hello from go"))),
		TagSpecifications: []types.TagSpecification{{
			ResourceType: types.ResourceTypeInstance,
			Tags:         []types.Tag{{Key: aws.String("scenario"), Value: aws.String("go")}},
		}},
	})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	if len(run.Instances) != 1 {
		t.Fatalf("RunInstances gave %d instances, want 1", len(run.Instances))
	}
	in := run.Instances[0]
	id := aws.ToString(in.InstanceId)
	if !strings.HasPrefix(id, "i-") || aws.ToString(run.ReservationId) == "" || aws.ToString(run.OwnerId) == "" {
		t.Errorf("RunInstances: instance %q, reservation %q, owner %q", id, aws.ToString(run.ReservationId), aws.ToString(run.OwnerId))
	}
	if got := aws.ToInt32(in.State.Code); got != codePending {
		t.Errorf("new instance state %d (%s), want pending", got, in.State.Name)
	}
	if aws.ToString(in.ImageId) != testImage || in.InstanceType != types.InstanceTypeM1Small {
		t.Errorf("new instance image %q type %q", aws.ToString(in.ImageId), in.InstanceType)
	}

	running := waitCode(t, ctx, cli, id, codeRunning)
	for name, v := range map[string]*string{
		"dnsName": running.PublicDnsName, "privateDnsName": running.PrivateDnsName,
		"ipAddress": running.PublicIpAddress, "privateIpAddress": running.PrivateIpAddress,
	} {
		if aws.ToString(v) == "" {
			t.Errorf("running instance has no %s", name)
		}
	}
	if running.LaunchTime == nil || running.LaunchTime.IsZero() {
		t.Error("running instance has no launchTime")
	}
	if running.Placement == nil || !strings.HasPrefix(aws.ToString(running.Placement.AvailabilityZone), testRegion) {
		t.Errorf("running instance placement %+v, want a zone of %s", running.Placement, testRegion)
	}
	if !hasTag(running.Tags, "scenario", "go") {
		t.Errorf("TagSpecification's tag missing: %+v", running.Tags)
	}

	if _, err := cli.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: []string{id},
		Tags:      []types.Tag{{Key: aws.String("Name"), Value: aws.String("interop-go")}},
	}); err != nil {
		t.Fatalf("CreateTags: %v", err)
	}
	for _, f := range []types.Filter{
		{Name: aws.String("tag:Name"), Values: []string{"interop-go"}},
		{Name: aws.String("tag-key"), Values: []string{"Name"}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
		{Name: aws.String("client-token"), Values: []string{aws.ToString(running.ClientToken)}},
	} {
		out, err := cli.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{f}})
		if err != nil {
			t.Errorf("DescribeInstances filter %s: %v", aws.ToString(f.Name), err)
			continue
		}
		if !slices.Contains(ids(out), id) {
			t.Errorf("DescribeInstances filter %s=%v misses %s (got %v)", aws.ToString(f.Name), f.Values, id, ids(out))
		}
	}
	tags, err := cli.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("resource-id"), Values: []string{id}}}})
	if err != nil {
		t.Errorf("DescribeTags: %v", err)
	} else if len(tags.Tags) < 2 {
		t.Errorf("DescribeTags gave %d tags for %s, want scenario and Name", len(tags.Tags), id)
	}

	stop, err := cli.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatalf("StopInstances: %v", err)
	}
	if len(stop.StoppingInstances) != 1 || aws.ToInt32(stop.StoppingInstances[0].PreviousState.Code) != codeRunning {
		t.Errorf("StopInstances answered %+v", stop.StoppingInstances)
	}
	waitCode(t, ctx, cli, id, codeStopped)
	if _, err := cli.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatalf("StartInstances: %v", err)
	}
	waitCode(t, ctx, cli, id, codeRunning)

	term, err := cli.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	if len(term.TerminatingInstances) != 1 {
		t.Fatalf("TerminateInstances answered %d instances", len(term.TerminatingInstances))
	}
	if cur := aws.ToInt32(term.TerminatingInstances[0].CurrentState.Code); cur != codeShutting && cur != codeTerminated {
		t.Errorf("TerminateInstances current state %d, want shutting-down or terminated", cur)
	}
	gone := waitCode(t, ctx, cli, id, codeTerminated)
	if gone.StateReason == nil || aws.ToString(gone.StateReason.Code) != "Client.UserInitiatedShutdown" {
		t.Errorf("terminated instance stateReason %+v, want Client.UserInitiatedShutdown", gone.StateReason)
	}

	_, err = cli.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	wantCode(t, "DescribeInstances of an unknown id", err, "InvalidInstanceID.NotFound")
	_, err = cli.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(testImage), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), KeyName: aws.String("no-such-key")})
	wantCode(t, "RunInstances with a missing key", err, "InvalidKeyPair.NotFound")
}

func hasTag(tags []types.Tag, k, v string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == k && aws.ToString(t.Value) == v {
			return true
		}
	}
	return false
}

// goIdempotency checks ClientToken as each flavor treats it (htcondor-ec2.md §3.7): AWS
// and Nimbus answer a repeated token with the first launch; OpenStack and Eucalyptus
// ignore it and launch again.
func goIdempotency(t *testing.T, c *cloudProc, cli *ec2.Client) {
	ctx := testCtx(t)
	in := func(typ types.InstanceType) *ec2.RunInstancesInput {
		return &ec2.RunInstancesInput{ImageId: aws.String(testImage), InstanceType: typ,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String("interop-token-" + c.flavor)}
	}
	first, err := cli.RunInstances(ctx, in(types.InstanceTypeM1Small))
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	again, err := cli.RunInstances(ctx, in(types.InstanceTypeM1Small))
	if err != nil {
		t.Fatalf("RunInstances again: %v", err)
	}
	a, b := aws.ToString(first.Instances[0].InstanceId), aws.ToString(again.Instances[0].InstanceId)
	honours := c.flavor == "aws" || c.flavor == "nimbus"
	launched := []string{a}
	if honours {
		if a != b {
			t.Errorf("a repeated ClientToken launched %s after %s; %s honours ClientToken", b, a, c.flavor)
		}
		_, err = cli.RunInstances(ctx, in(types.InstanceTypeM1Large))
		wantCode(t, "the token with other parameters", err, "IdempotentParameterMismatch")
	} else if a == b {
		t.Errorf("a repeated ClientToken gave the same instance %s; %s ignores ClientToken", a, c.flavor)
	}
	if a != b {
		launched = append(launched, b)
	}
	if _, err := cli.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: launched}); err != nil {
		t.Errorf("TerminateInstances: %v", err)
	}
}

func goKeyPairs(t *testing.T, cli *ec2.Client) {
	ctx := testCtx(t)
	kp, err := cli.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("interop-go")})
	if err != nil {
		t.Fatalf("CreateKeyPair: %v", err)
	}
	if !strings.HasPrefix(aws.ToString(kp.KeyMaterial), "-----BEGIN") || aws.ToString(kp.KeyFingerprint) == "" {
		t.Errorf("CreateKeyPair: material %.40q fingerprint %q", aws.ToString(kp.KeyMaterial), aws.ToString(kp.KeyFingerprint))
	}
	_, err = cli.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("interop-go")})
	wantCode(t, "CreateKeyPair twice", err, "InvalidKeyPair.Duplicate")

	pub, err := os.ReadFile(filepath.Join("testdata", "interop_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	imp, err := cli.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("interop-go-imported"), PublicKeyMaterial: pub})
	if err != nil {
		t.Fatalf("ImportKeyPair: %v", err)
	}
	if aws.ToString(imp.KeyFingerprint) == "" {
		t.Error("ImportKeyPair gave no fingerprint")
	}

	desc, err := cli.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"interop-go"}})
	if err != nil {
		t.Fatalf("DescribeKeyPairs: %v", err)
	}
	if len(desc.KeyPairs) != 1 || aws.ToString(desc.KeyPairs[0].KeyFingerprint) != aws.ToString(kp.KeyFingerprint) {
		t.Errorf("DescribeKeyPairs interop-go: %+v, want the created key", desc.KeyPairs)
	}
	all, err := cli.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil {
		t.Fatalf("DescribeKeyPairs: %v", err)
	}
	var names []string
	for _, k := range all.KeyPairs {
		names = append(names, aws.ToString(k.KeyName))
	}
	if !slices.Contains(names, "interop-go") || !slices.Contains(names, "interop-go-imported") {
		t.Errorf("DescribeKeyPairs lists %v", names)
	}
	for _, n := range []string{"interop-go", "interop-go-imported"} {
		if _, err := cli.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String(n)}); err != nil {
			t.Errorf("DeleteKeyPair %s: %v", n, err)
		}
	}
	_, err = cli.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"interop-go"}})
	wantCode(t, "DescribeKeyPairs of a deleted key", err, "InvalidKeyPair.NotFound")
}

func goSpot(t *testing.T, cli *ec2.Client) {
	ctx := testCtx(t)
	req, err := cli.RequestSpotInstances(ctx, &ec2.RequestSpotInstancesInput{
		SpotPrice:     aws.String("0.50"),
		InstanceCount: aws.Int32(1),
		Type:          types.SpotInstanceTypeOneTime,
		LaunchSpecification: &types.RequestSpotLaunchSpecification{
			ImageId:      aws.String(testImage),
			InstanceType: types.InstanceTypeM1Small,
		},
	})
	if err != nil {
		t.Fatalf("RequestSpotInstances: %v", err)
	}
	if len(req.SpotInstanceRequests) != 1 {
		t.Fatalf("RequestSpotInstances gave %d requests, want 1", len(req.SpotInstanceRequests))
	}
	sir := aws.ToString(req.SpotInstanceRequests[0].SpotInstanceRequestId)
	if !strings.HasPrefix(sir, "sir-") {
		t.Errorf("spot request id %q", sir)
	}

	var instanceID string
	deadline := time.Now().Add(stateTimeout)
	for instanceID == "" && time.Now().Before(deadline) {
		d, err := cli.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}})
		if err != nil {
			t.Fatalf("DescribeSpotInstanceRequests: %v", err)
		}
		if len(d.SpotInstanceRequests) != 1 {
			t.Fatalf("DescribeSpotInstanceRequests gave %d requests", len(d.SpotInstanceRequests))
		}
		r := d.SpotInstanceRequests[0]
		if r.State == types.SpotInstanceStateActive && aws.ToString(r.InstanceId) != "" {
			instanceID = aws.ToString(r.InstanceId)
			break
		}
		time.Sleep(pollInterval)
	}
	if instanceID == "" {
		t.Fatalf("spot request %s (bid 0.50 over price %s) not active with an instance after %v", sir, spotPrice, stateTimeout)
	}
	in, err := describeOne(ctx, cli, instanceID)
	if err != nil {
		t.Fatalf("describe the spot instance: %v", err)
	}
	if in.InstanceLifecycle != types.InstanceLifecycleTypeSpot || aws.ToString(in.SpotInstanceRequestId) != sir {
		t.Errorf("spot instance lifecycle %q request %q, want spot and %s", in.InstanceLifecycle, aws.ToString(in.SpotInstanceRequestId), sir)
	}

	hist, err := cli.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{InstanceTypes: []types.InstanceType{types.InstanceTypeM1Small}})
	if err != nil {
		t.Errorf("DescribeSpotPriceHistory: %v", err)
	} else if len(hist.SpotPriceHistory) == 0 {
		t.Error("DescribeSpotPriceHistory is empty")
	} else if p, err := strconv.ParseFloat(aws.ToString(hist.SpotPriceHistory[0].SpotPrice), 64); err != nil || p != 0.05 {
		t.Errorf("spot price %q, want the configured %s", aws.ToString(hist.SpotPriceHistory[0].SpotPrice), spotPrice)
	}

	cancel, err := cli.CancelSpotInstanceRequests(ctx, &ec2.CancelSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}})
	if err != nil {
		t.Fatalf("CancelSpotInstanceRequests: %v", err)
	}
	if len(cancel.CancelledSpotInstanceRequests) != 1 || cancel.CancelledSpotInstanceRequests[0].State != types.CancelSpotInstanceRequestStateCancelled {
		t.Errorf("CancelSpotInstanceRequests answered %+v", cancel.CancelledSpotInstanceRequests)
	}
	if _, err := cli.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instanceID}}); err != nil {
		t.Errorf("terminate the spot instance: %v", err)
	}
}

// goIsolation checks that a second account sees and changes nothing of the first's, and
// that a wrong secret is refused.
func goIsolation(t *testing.T, c *cloudProc, cli *ec2.Client) {
	ctx := testCtx(t)
	run, err := cli.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(testImage), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	if _, err := cli.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("demo-only")}); err != nil {
		t.Fatalf("CreateKeyPair: %v", err)
	}

	alice := goClient(c, c.aliceKey, c.aliceSec)
	all, err := alice.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatalf("alice DescribeInstances: %v", err)
	}
	if slices.Contains(ids(all), id) {
		t.Errorf("alice sees the demo account's instance %s", id)
	}
	_, err = alice.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	wantCode(t, "alice describing demo's instance", err, "InvalidInstanceID.NotFound")
	_, err = alice.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	wantCode(t, "alice terminating demo's instance", err, "InvalidInstanceID.NotFound")
	_, err = alice.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"demo-only"}})
	wantCode(t, "alice describing demo's key", err, "InvalidKeyPair.NotFound")

	_, err = goClient(c, c.accessKey, "not-the-secret").DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantCode(t, "a wrong secret", err, "AuthFailure")
	_, err = goClient(c, "AKIANOSUCHKEY0000000", "x").DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if code := apiCode(err); code != "AuthFailure" && code != "InvalidClientTokenId" {
		t.Errorf("an unknown access key: error %v, want AuthFailure", err)
	}

	if in, err := describeOne(ctx, cli, id); err != nil || aws.ToInt32(in.State.Code)&0xff >= codeShutting {
		t.Errorf("demo's instance after alice's attempts: %v, state %+v", err, in.State)
	}
	if _, err := cli.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Errorf("TerminateInstances: %v", err)
	}
	if _, err := cli.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("demo-only")}); err != nil {
		t.Errorf("DeleteKeyPair: %v", err)
	}
}
