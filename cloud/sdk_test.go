package cloud

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// sdkClient is aws-sdk-go-v2's EC2 client pointed at the test cloud, signing as acct.
func sdkClient(tc *testCloud, acct Account, path string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(tc.url + path),
		Credentials:  credentials.NewStaticCredentialsProvider(acct.AccessKeyID, acct.SecretAccessKey, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   ownBodyClient{},
	})
}

// ownBodyClient gives net/http its own copy of each request body. smithy-go (v1.28.8)
// closes the request body as soon as Do returns, and with Go 1.26's transport that now
// and then closes the connection while the response is still being read: the call fails
// with "deserialization failed ... use of closed network connection". It happens against
// any server (a canned-answer httptest server shows it too), so it is worked around here
// rather than in the cloud.
type ownBodyClient struct{}

func (ownBodyClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return http.DefaultClient.Do(r)
}

// TestSDKEndToEnd runs the interop sequence with aws-sdk-go-v2 against every flavor: the
// flavors dress answers differently (declarations, requestId, euca: prefixes) and the SDK
// must read them all.
func TestSDKEndToEnd(t *testing.T) {
	for _, flavor := range []string{FlavorAWS, FlavorOpenStack, FlavorNimbus, FlavorEucalyptus} {
		t.Run(flavor, func(t *testing.T) {
			tc := newTestCloud(t, func(cfg *Config) { cfg.Flavor = flavor })
			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			defer cancel()
			cli := sdkClient(tc, alice, "/services/Cloud")

			kp, err := cli.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("sdk-key")})
			if err != nil || aws.ToString(kp.KeyMaterial) == "" || aws.ToString(kp.KeyFingerprint) == "" {
				t.Fatalf("CreateKeyPair: %v %+v", err, kp)
			}
			run, err := cli.RunInstances(ctx, &ec2.RunInstancesInput{
				ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
				KeyName: aws.String("sdk-key"), InstanceType: types.InstanceTypeM5Large,
				TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance,
					Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("sdk")}}}},
			})
			if err != nil || len(run.Instances) != 1 {
				t.Fatalf("RunInstances: %v %+v", err, run)
			}
			id := aws.ToString(run.Instances[0].InstanceId)
			if run.Instances[0].State.Name != types.InstanceStateNamePending || aws.ToString(run.OwnerId) != alice.OwnerID {
				t.Errorf("RunInstances answer: %+v", run.Instances[0])
			}
			// The SDK filled in a ClientToken; flavors that honour it show it.
			if tok := aws.ToString(run.Instances[0].ClientToken); (tok != "") != tc.s.flavor.honoursClientToken {
				t.Errorf("clientToken %q", tok)
			}

			var inst types.Instance
			for deadline := time.Now().Add(testWait); ; {
				out, err := cli.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
				if err != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
					t.Fatalf("DescribeInstances: %v %+v", err, out)
				}
				inst = out.Reservations[0].Instances[0]
				if inst.State.Name == types.InstanceStateNameRunning {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("never running: %s", inst.State.Name)
				}
				time.Sleep(testPoll)
			}
			if aws.ToString(inst.PublicDnsName) == "" || aws.ToString(inst.PrivateIpAddress) == "" ||
				aws.ToString(inst.KeyName) != "sdk-key" || inst.InstanceType != types.InstanceTypeM5Large ||
				len(inst.Tags) != 1 || inst.LaunchTime == nil || aws.ToInt32(inst.State.Code) != 16 {
				t.Errorf("running instance: %+v", inst)
			}

			if _, err := cli.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id},
				Tags: []types.Tag{{Key: aws.String("job"), Value: aws.String("42")}}}); err != nil {
				t.Fatalf("CreateTags: %v", err)
			}
			tags, err := cli.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("resource-id"), Values: []string{id}}}})
			if err != nil || len(tags.Tags) != 2 || tags.Tags[0].ResourceType != types.ResourceTypeInstance {
				t.Errorf("DescribeTags: %v %+v", err, tags)
			}
			byTag, err := cli.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:job"), Values: []string{"42"}}}})
			if err != nil || len(byTag.Reservations) != 1 {
				t.Errorf("tag filter: %v %+v", err, byTag)
			}

			term, err := cli.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
			if err != nil || len(term.TerminatingInstances) != 1 ||
				term.TerminatingInstances[0].CurrentState.Name != types.InstanceStateNameShuttingDown ||
				term.TerminatingInstances[0].PreviousState.Name != types.InstanceStateNameRunning {
				t.Fatalf("TerminateInstances: %v %+v", err, term)
			}

			keys, err := cli.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
			if err != nil || len(keys.KeyPairs) != 1 || aws.ToString(keys.KeyPairs[0].KeyFingerprint) != aws.ToString(kp.KeyFingerprint) {
				t.Errorf("DescribeKeyPairs: %v %+v", err, keys)
			}
			if _, err := cli.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("sdk-key")}); err != nil {
				t.Errorf("DeleteKeyPair: %v", err)
			}

			_, err = cli.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0000000000000000f"}})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidInstanceID.NotFound" {
				t.Errorf("unknown id: %v", err)
			}
		})
	}
}

func TestSDKPaginatorAndIdempotency(t *testing.T) {
	tc := newTestCloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	cli := sdkClient(tc, alice, "")
	in := &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(12), MaxCount: aws.Int32(12),
		ClientToken: aws.String("sdk-retry")}
	first, err := cli.RunInstances(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cli.RunInstances(ctx, in)
	if err != nil || aws.ToString(again.ReservationId) != aws.ToString(first.ReservationId) {
		t.Errorf("retry with the same token: %v, %s vs %s", err, aws.ToString(again.ReservationId), aws.ToString(first.ReservationId))
	}
	in.InstanceType = types.InstanceTypeC5Large
	_, err = cli.RunInstances(ctx, in)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "IdempotentParameterMismatch" {
		t.Errorf("changed request, same token: %v", err)
	}

	pages := ec2.NewDescribeInstancesPaginator(cli, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	seen, n := map[string]bool{}, 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				seen[aws.ToString(i.InstanceId)] = true
			}
		}
	}
	if len(seen) != 12 || n != 3 {
		t.Errorf("paginator: %d instances in %d pages", len(seen), n)
	}
}
