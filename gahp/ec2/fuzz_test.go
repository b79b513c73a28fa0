package ec2

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ec2grid/ec2grid/gahp"
)

// stubAPI answers every call at once with a minimal success, so a fuzz run exercises the
// commands' argument handling without a network.
type stubAPI struct{}

func (stubAPI) RunInstances(context.Context, *awsec2.RunInstancesInput, ...func(*awsec2.Options)) (*awsec2.RunInstancesOutput, error) {
	return &awsec2.RunInstancesOutput{Instances: []types.Instance{{InstanceId: aws.String("i-1")}}}, nil
}
func (stubAPI) TerminateInstances(context.Context, *awsec2.TerminateInstancesInput, ...func(*awsec2.Options)) (*awsec2.TerminateInstancesOutput, error) {
	return &awsec2.TerminateInstancesOutput{}, nil
}
func (stubAPI) DescribeInstances(context.Context, *awsec2.DescribeInstancesInput, ...func(*awsec2.Options)) (*awsec2.DescribeInstancesOutput, error) {
	return &awsec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{{InstanceId: aws.String("i-1")}}}}}, nil
}
func (stubAPI) CreateKeyPair(context.Context, *awsec2.CreateKeyPairInput, ...func(*awsec2.Options)) (*awsec2.CreateKeyPairOutput, error) {
	return &awsec2.CreateKeyPairOutput{KeyMaterial: aws.String("k")}, nil
}
func (stubAPI) DeleteKeyPair(context.Context, *awsec2.DeleteKeyPairInput, ...func(*awsec2.Options)) (*awsec2.DeleteKeyPairOutput, error) {
	return &awsec2.DeleteKeyPairOutput{}, nil
}
func (stubAPI) DescribeKeyPairs(context.Context, *awsec2.DescribeKeyPairsInput, ...func(*awsec2.Options)) (*awsec2.DescribeKeyPairsOutput, error) {
	return &awsec2.DescribeKeyPairsOutput{}, nil
}
func (stubAPI) AssociateAddress(context.Context, *awsec2.AssociateAddressInput, ...func(*awsec2.Options)) (*awsec2.AssociateAddressOutput, error) {
	return &awsec2.AssociateAddressOutput{}, nil
}
func (stubAPI) AttachVolume(context.Context, *awsec2.AttachVolumeInput, ...func(*awsec2.Options)) (*awsec2.AttachVolumeOutput, error) {
	return &awsec2.AttachVolumeOutput{}, nil
}
func (stubAPI) CreateTags(context.Context, *awsec2.CreateTagsInput, ...func(*awsec2.Options)) (*awsec2.CreateTagsOutput, error) {
	return &awsec2.CreateTagsOutput{}, nil
}
func (stubAPI) RequestSpotInstances(context.Context, *awsec2.RequestSpotInstancesInput, ...func(*awsec2.Options)) (*awsec2.RequestSpotInstancesOutput, error) {
	return &awsec2.RequestSpotInstancesOutput{SpotInstanceRequests: []types.SpotInstanceRequest{{SpotInstanceRequestId: aws.String("sir-1")}}}, nil
}
func (stubAPI) CancelSpotInstanceRequests(context.Context, *awsec2.CancelSpotInstanceRequestsInput, ...func(*awsec2.Options)) (*awsec2.CancelSpotInstanceRequestsOutput, error) {
	return &awsec2.CancelSpotInstanceRequestsOutput{}, nil
}
func (stubAPI) DescribeSpotInstanceRequests(context.Context, *awsec2.DescribeSpotInstanceRequestsInput, ...func(*awsec2.Options)) (*awsec2.DescribeSpotInstanceRequestsOutput, error) {
	return &awsec2.DescribeSpotInstanceRequestsOutput{SpotInstanceRequests: []types.SpotInstanceRequest{{SpotInstanceRequestId: aws.String("sir-1")}}}, nil
}

// FuzzCommandLine: any request line a command's Check accepts runs to a well-formed result
// (0 and values, or 1, a code and a message) without panicking. The URL and key-file
// arguments are replaced by usable ones so the fuzzer reaches the argument handling behind
// them; the user-data file and key file arguments may name anything.
func FuzzCommandLine(f *testing.F) {
	g, err := New(Options{NewAPI: func(Endpoint, aws.CredentialsProvider) API { return stubAPI{} }})
	if err != nil {
		f.Fatal(err)
	}
	cmds := map[string]gahp.Command{}
	for _, c := range g.Commands() {
		cmds[c.Name] = c
	}
	f.Add("EC2_VM_START 2 u a s ami-1 NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL 1 NULL NULL NULL")
	f.Add("EC2_VM_START 2 u a s ami-1 key Hello\\ EC2! NULL m5.large az sub 10.0.0.1 tok eph0:/dev/sdb,x NULL NULL 3 a b NULL c NULL P V Q NULL extra")
	f.Add("EC2_VM_START_SPOT 3 u a s ami 0.1 NULL NULL NULL NULL NULL NULL 10.1.1.1 tok NULL NULL NULL NULL")
	f.Add("EC2_VM_STATUS_ALL 4 u a s client-token tok")
	f.Add("EC2_VM_CREATE_TAGS 5 u a s i-1 a=b =c d NULL e")
	f.Add("EC2_VM_ASSOCIATE_ADDRESS 6 u a s i-1 1.2.3.4:")
	f.Add("EC2_VM_CREATE_KEYPAIR 7 u a s k /dev/null")
	f.Add("EC2_VM_STOP 8 u a s i-1 i-2 NULL")
	f.Fuzz(func(t *testing.T, line string) {
		args := gahp.Tokenize(line)
		cmd, ok := cmds[strings.ToUpper(args[0])]
		if !ok || len(args) < 5 || !cmd.Check(args) {
			return
		}
		args[2], args[3], args[4] = "http://127.0.0.1:1/", FromInstance, FromInstance
		if cmd.Name == CmdCreateKeypair {
			args[6] = DiscardKeyFile // the fuzzer must not write files anywhere
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res := cmd.Run(ctx, gahp.Request{ID: 1, Args: args, Received: time.Now()})
		switch {
		case len(res) >= 1 && res[0] == gahp.ResultSuccess:
		case len(res) == 3 && res[0] == gahp.ResultFailure && res[1] != "":
		default:
			t.Fatalf("%q gave %q", line, res)
		}
	})
}
