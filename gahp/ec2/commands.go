package ec2

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/gahp"
)

// Version is the banner and VERSION answer of HTCondor's ec2_gahp, byte for byte (raw: the
// backslash is on the wire). HTCondor's gridmanager reads it and needs only the leading $.
const Version = `$GahpVersion 1.0 Feb 15 2008 Condor\ AMAZONGAHP $`

// The commands, in the order HTCondor's ec2_gahp registers (and COMMANDS lists) them.
// HTCondor's condor_annex-only commands (EC2_BULK_*, CWE_*, AWS_*, S3_UPLOAD, CF_*) are not
// implemented, so not listed: its gridmanager never sends them for grid jobs.
const (
	CmdStart          = "EC2_VM_START"
	CmdStartSpot      = "EC2_VM_START_SPOT"
	CmdStop           = "EC2_VM_STOP"
	CmdStopSpot       = "EC2_VM_STOP_SPOT"
	CmdStatusSpot     = "EC2_VM_STATUS_SPOT"
	CmdStatusAllSpot  = "EC2_VM_STATUS_ALL_SPOT"
	CmdStatus         = "EC2_VM_STATUS"
	CmdStatusAll      = "EC2_VM_STATUS_ALL"
	CmdCreateKeypair  = "EC2_VM_CREATE_KEYPAIR"
	CmdDestroyKeypair = "EC2_VM_DESTROY_KEYPAIR"
	CmdAssociateAddr  = "EC2_VM_ASSOCIATE_ADDRESS"
	CmdAttachVolume   = "EC2_VM_ATTACH_VOLUME"
	CmdCreateTags     = "EC2_VM_CREATE_TAGS"
	CmdServerType     = "EC2_VM_SERVER_TYPE"
)

// DiscardKeyFile is the private-key file HTCondor's gridmanager names when it wants none.
const DiscardKeyFile = "/dev/null"

// maxPages bounds how many pages a Describe call follows: a server that keeps returning a
// NextToken (a bug) must not hold a worker forever. 10,000 pages of 1,000 instances is ten
// million instances, beyond any account.
const maxPages = 10_000

// statusPageSize is the MaxResults of EC2_VM_STATUS_ALL's DescribeInstances: EC2's largest
// page, so one probe of up to 1,000 instances is one call, and a probe of more never asks
// AWS for a response so large that it times out (AWS may also refuse an unpaged call
// in a big account). A cloud that rejects MaxResults is asked again without it.
const statusPageSize = 1000

// Tag keys HTCondor reports in EC2_VM_STATUS_ALL's 7th and 8th fields.
const (
	tagSpotFleet = "aws:ec2spot:fleet-request-id"
	tagAnnexName = "htcondor:AnnexName"
)

// Commands returns the commands for a gahp.Server, with HTCondor's argument checks: each
// Check accepts every line HTCondor's gridmanager sends (and HTCondor's ec2_gahp accepts),
// except that EC2_VM_CREATE_TAGS also accepts zero tags, where HTCondor answers E and its
// gridmanager aborts (its bug §10.8).
func (g *Gahp) Commands() []gahp.Command {
	return []gahp.Command{
		{Name: CmdStart, Check: checkStart, Run: g.start},
		{Name: CmdStartSpot, Check: atLeast(19), Run: g.startSpot},
		{Name: CmdStop, Check: atLeast(6), Run: g.stop},
		{Name: CmdStopSpot, Check: exactly(6), Run: g.stopSpot},
		{Name: CmdStatusSpot, Check: exactly(6), Run: g.statusSpot},
		{Name: CmdStatusAllSpot, Check: atLeast(5), Run: g.statusAllSpot},
		{Name: CmdStatus, Check: exactly(6), Run: g.status},
		{Name: CmdStatusAll, Check: atLeast(5), Run: g.statusAll},
		{Name: CmdCreateKeypair, Check: exactly(7), Run: g.createKeypair},
		{Name: CmdDestroyKeypair, Check: exactly(6), Run: g.destroyKeypair},
		{Name: CmdAssociateAddr, Check: exactly(7), Run: g.associateAddress},
		{Name: CmdAttachVolume, Check: exactly(8), Run: g.attachVolume},
		{Name: CmdCreateTags, Check: atLeast(7), Run: g.createTags},
		{Name: CmdServerType, Check: exactly(5), Run: g.serverType},
	}
}

func exactly(n int) func([]string) bool { return func(a []string) bool { return len(a) == n } }
func atLeast(n int) func([]string) bool { return func(a []string) bool { return len(a) >= n } }

// checkStart: at least 21 tokens (three NULL-terminated lists, possibly empty) and a
// max-count of digits (or NULL, which HTCondor's worker also handles).
func checkStart(a []string) bool {
	return len(a) >= 21 && (gahp.IsNull(a[17]) || allDigits(a[17]))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func success(fields ...string) []string { return append([]string{gahp.ResultSuccess}, fields...) }

// opt returns nil for an unset (NULL) argument, else a pointer to it.
func opt(s string) *string {
	if gahp.IsNull(s) {
		return nil
	}
	return aws.String(s)
}

// nullLists splits args at NULL terminators into n lists; a missing terminator ends the
// list at the end of the line, and anything after the nth terminator is ignored (HTCondor
// logs and ignores it too).
func nullLists(args []string, n int) [][]string {
	lists := make([][]string, n)
	i := 0
	for _, a := range args {
		if i == n {
			break
		}
		if strings.EqualFold(a, gahp.Null) {
			i++
			continue
		}
		lists[i] = append(lists[i], a)
	}
	return lists
}

// userData is the user-data argument followed by the user-data file's contents, base64
// without line breaks (OpenNebula rejects them, HTCondor notes); "" if both are unset.
// Together they must fit EC2's limit: condor_submit checked the file, but it may have grown
// since, and a file far over the limit is refused without being read.
func userData(inline, file string) (string, *failure) {
	var buf []byte
	if !gahp.IsNull(inline) {
		buf = append(buf, inline...)
	}
	if !gahp.IsNull(file) {
		b, err := readUserDataFile(file, maxUserData-int64(len(buf)))
		if err != nil {
			return "", &failure{codeFileIO, "Failed to read userdata file: " + err.Error()}
		}
		buf = append(buf, b...)
	}
	if len(buf) == 0 {
		return "", nil
	}
	return base64.StdEncoding.EncodeToString(buf), nil
}

// maxUserData is EC2's limit on user data, counted before base64 (the same limit
// condor_submit checks). The inline argument is not cut to it here: it came from the job,
// and EC2 itself answers for it; the file is bounded because reading it costs memory.
const maxUserData = 16 << 10

// readUserDataFile reads a regular file of at most max bytes (the room left beside the
// inline user data). A larger file is refused by its size, and no more than max+1 bytes are
// read if it grows meanwhile; a FIFO or device, which would block or never end, is refused
// before it is opened.
func readUserDataFile(path string, max int64) ([]byte, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooBig := func(n int64) error {
		return fmt.Errorf("%s is %d bytes, more than the %d bytes of user data EC2 accepts (with the inline user data)", path, n, maxUserData)
	}
	if st.Size() > max {
		return nil, tooBig(st.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, tooBig(int64(len(b)))
	}
	return b, nil
}

// blockDeviceMappings parses HTCondor's "virtual:device[, virtual:device...]"; malformed
// pairs are ignored, as HTCondor does.
func blockDeviceMappings(s string) []types.BlockDeviceMapping {
	if gahp.IsNull(s) {
		return nil
	}
	var out []types.BlockDeviceMapping
	for _, m := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		v, d, ok := strings.Cut(m, ":")
		if !ok || v == "" || d == "" || strings.Contains(d, ":") {
			continue
		}
		out = append(out, types.BlockDeviceMapping{VirtualName: aws.String(v), DeviceName: aws.String(d)})
	}
	return out
}

// begin resolves a command's client and deadline, and logs the outcome when done.
type run struct {
	g        *Gahp
	req      gahp.Request
	c        *client
	deadline time.Time
	start    time.Time
}

func (g *Gahp) begin(req gahp.Request) (*run, []string) {
	a := req.Args
	c, f := g.clients.get(a[2], a[3], a[4])
	if f != nil {
		g.log.Info("command failed", zap.String("command", a[0]), zap.Int64("id", req.ID), zap.String("code", f.code), zap.String("error", f.msg))
		return nil, f.fields()
	}
	return &run{g: g, req: req, c: c, deadline: req.Received.Add(g.opts.RetryDeadline), start: time.Now()}, nil
}

// done logs the result (never its values: key material and user data stay out of logs).
func (r *run) done(fields []string) []string {
	log := r.g.log.With(zap.String("command", r.req.Args[0]), zap.Int64("id", r.req.ID),
		zap.String("url", r.c.ep.URL), zap.Duration("took", time.Since(r.start)))
	if fields[0] == gahp.ResultSuccess {
		log.Debug("command done", zap.Int("fields", len(fields)-1))
	} else {
		log.Info("command failed", zap.String("code", fields[1]), zap.String("error", fields[2]))
	}
	return fields
}

func (r *run) call(ctx context.Context, op string, repeatable bool, fn func(context.Context) error) error {
	return r.g.call(ctx, r.c, r.deadline, op, repeatable, fn)
}

// start: EC2_VM_START <id> <url> <ak> <sk> <ami> <keypair> <user-data> <user-data-file>
// <instance-type> <az> <subnet> <vpc-ip> <client-token> <block-device-mapping> <iam-arn>
// <iam-name> <max-count> <sg-name>* NULL <sg-id>* NULL [<param> <value>]* NULL.
func (g *Gahp) start(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	a := req.Args
	ud, f := userData(a[7], a[8])
	if f != nil {
		return r.done(f.fields())
	}
	maxCount := int32(1)
	if n, err := strconv.ParseInt(a[17], 10, 32); err == nil && n > 1 {
		maxCount = int32(n)
	}
	in := &awsec2.RunInstancesInput{
		ImageId:                           aws.String(a[5]),
		MinCount:                          aws.Int32(1),
		MaxCount:                          aws.Int32(maxCount),
		InstanceInitiatedShutdownBehavior: types.ShutdownBehaviorTerminate,
		KeyName:                           opt(a[6]),
		InstanceType:                      types.InstanceType(nullToEmpty(a[9])),
		SubnetId:                          opt(a[11]),
		PrivateIpAddress:                  opt(a[12]),
		ClientToken:                       opt(a[13]),
		BlockDeviceMappings:               blockDeviceMappings(a[14]),
	}
	if ud != "" {
		in.UserData = aws.String(ud)
	}
	if az := opt(a[10]); az != nil {
		in.Placement = &types.Placement{AvailabilityZone: az}
	}
	if arn, name := opt(a[15]), opt(a[16]); arn != nil || name != nil {
		in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: arn, Name: name}
	}
	lists := nullLists(a[18:], 3)
	in.SecurityGroups, in.SecurityGroupIds = lists[0], lists[1]
	var params [][2]string
	for i := 0; i+1 < len(lists[2]); i += 2 {
		params = append(params, [2]string{lists[2][i], lists[2][i+1]})
	}

	var out *awsec2.RunInstancesOutput
	err := r.call(ctx, "RunInstances", false, func(ctx context.Context) (err error) {
		out, err = r.c.api.RunInstances(ctx, in, noAutoClientToken, withQueryParams(params))
		return err
	})
	if err != nil {
		return r.done(callFailure(err, codeNeedCheckVMStart))
	}
	var ids []string
	for _, inst := range out.Instances {
		if id := aws.ToString(inst.InstanceId); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return r.done((&failure{codeNoInstanceID, "Could not find instance ID in response from server.  Check the EC2 GAHP log for details."}).fields())
	}
	return r.done(success(ids...))
}

func nullToEmpty(s string) string {
	if gahp.IsNull(s) {
		return ""
	}
	return s
}

// startSpot: EC2_VM_START_SPOT <id> <url> <ak> <sk> <ami> <spot-price> <keypair>
// <user-data> <user-data-file> <instance-type> <az> <subnet> <vpc-ip> <client-token>
// <iam-arn> <iam-name> <sg-name>* NULL <sg-id>* NULL.
func (g *Gahp) startSpot(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	a := req.Args
	ud, f := userData(a[8], a[9])
	if f != nil {
		return r.done(f.fields())
	}
	spec := &types.RequestSpotLaunchSpecification{
		ImageId: aws.String(a[5]),
		KeyName: opt(a[7]),
		// HTCondor defaults an unset type to m1.small (§10.12, a generation retired since);
		// unset here lets the cloud pick its own default.
		InstanceType: types.InstanceType(nullToEmpty(a[10])),
	}
	if ud != "" {
		spec.UserData = aws.String(ud)
	}
	if az := opt(a[11]); az != nil {
		spec.Placement = &types.SpotPlacement{AvailabilityZone: az}
	}
	if ip := opt(a[13]); ip != nil {
		// A private address needs a network interface; the subnet goes with it (EC2
		// rejects a SubnetId beside NetworkInterfaces).
		spec.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex: aws.Int32(0), SubnetId: opt(a[12]), PrivateIpAddress: ip,
		}}
	} else {
		spec.SubnetId = opt(a[12])
	}
	if arn, name := opt(a[15]), opt(a[16]); arn != nil || name != nil {
		spec.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: arn, Name: name}
	}
	lists := nullLists(a[17:], 2)
	spec.SecurityGroups, spec.SecurityGroupIds = lists[0], lists[1]
	in := &awsec2.RequestSpotInstancesInput{
		InstanceCount:       aws.Int32(1),
		SpotPrice:           opt(a[6]),
		LaunchSpecification: spec,
		// HTCondor's recovery marker: EC2_VM_STATUS_ALL_SPOT reports it and the gridmanager
		// matches requests to jobs by it. The same token as ClientToken makes the request
		// itself idempotent where the cloud supports it.
		LaunchGroup: opt(a[14]),
		ClientToken: opt(a[14]),
	}
	var out *awsec2.RequestSpotInstancesOutput
	err := r.call(ctx, "RequestSpotInstances", false, func(ctx context.Context) (err error) {
		out, err = r.c.api.RequestSpotInstances(ctx, in)
		return err
	})
	if err != nil {
		return r.done(callFailure(err, codeNeedCheckVMStart))
	}
	for _, sir := range out.SpotInstanceRequests {
		if id := aws.ToString(sir.SpotInstanceRequestId); id != "" {
			return r.done(success(id))
		}
	}
	return r.done((&failure{codeNoSpotRequestID, "Could not find spot request ID in response from server.  Check the EC2 GAHP log for details."}).fields())
}

// stop: EC2_VM_STOP <id> <url> <ak> <sk> <instance-id>+, one TerminateInstances.
func (g *Gahp) stop(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	in := &awsec2.TerminateInstancesInput{InstanceIds: req.Args[5:]}
	err := r.call(ctx, "TerminateInstances", true, func(ctx context.Context) error {
		_, err := r.c.api.TerminateInstances(ctx, in)
		return err
	})
	if err != nil {
		return r.done(callFailure(err, ""))
	}
	return r.done(success())
}

// stopSpot: EC2_VM_STOP_SPOT <id> <url> <ak> <sk> <spot-request-id>. The instance, if any,
// is the gridmanager's to stop with EC2_VM_STOP, as in HTCondor.
func (g *Gahp) stopSpot(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	in := &awsec2.CancelSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{req.Args[5]}}
	err := r.call(ctx, "CancelSpotInstanceRequests", true, func(ctx context.Context) error {
		_, err := r.c.api.CancelSpotInstanceRequests(ctx, in)
		return err
	})
	if err != nil {
		return r.done(callFailure(err, ""))
	}
	return r.done(success())
}

// describeInstances follows every page (HTCondor read only the first: with more than one
// page, the jobs on later pages were declared finished and their instances leaked).
func (r *run) describeInstances(ctx context.Context, in awsec2.DescribeInstancesInput) ([]types.Instance, error) {
	var all []types.Instance
	seen := map[string]bool{}
	for range maxPages {
		var out *awsec2.DescribeInstancesOutput
		page := in
		err := r.call(ctx, "DescribeInstances", true, func(ctx context.Context) (err error) {
			out, err = r.c.api.DescribeInstances(ctx, &page)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, res := range out.Reservations {
			all = append(all, res.Instances...)
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, &callError{op: "DescribeInstances", cls: classInternal, err: fmt.Errorf("the cloud repeated NextToken %q", next)}
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
	return nil, &callError{op: "DescribeInstances", cls: classInternal, err: fmt.Errorf("more than %d pages", maxPages)}
}

// status: EC2_VM_STATUS <id> <url> <ak> <sk> <instance-id> (never sent by HTCondor's
// gridmanager). Success: "0", or "0 <id> <state> <ami> <reason|NULL>" and, when running,
// "<public-dns|NULL> <private-dns|NULL> <keyname|NULL> <sg-id>+|NULL".
func (g *Gahp) status(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	id := req.Args[5]
	insts, err := r.describeInstances(ctx, awsec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		if IsNotFound(err) {
			return r.done(success()) // HTCondor lists all and finds none: the same answer
		}
		return r.done(callFailure(err, ""))
	}
	fields := []string{}
	for _, inst := range insts {
		if aws.ToString(inst.InstanceId) != id {
			continue
		}
		state := stateName(inst)
		fields = append(fields, id, state, aws.ToString(inst.ImageId), gahp.OrNull(stateReason(inst)))
		if strings.EqualFold(state, string(types.InstanceStateNameRunning)) {
			fields = append(fields, gahp.OrNull(aws.ToString(inst.PublicDnsName)),
				gahp.OrNull(aws.ToString(inst.PrivateDnsName)), gahp.OrNull(aws.ToString(inst.KeyName)))
			if len(inst.SecurityGroups) == 0 {
				fields = append(fields, gahp.Null)
			}
			for _, sg := range inst.SecurityGroups {
				fields = append(fields, aws.ToString(sg.GroupId))
			}
		}
	}
	return r.done(success(fields...))
}

func stateName(inst types.Instance) string {
	if inst.State == nil {
		return ""
	}
	return string(inst.State.Name)
}

func stateReason(inst types.Instance) string {
	if inst.StateReason == nil {
		return ""
	}
	return aws.ToString(inst.StateReason.Code)
}

func tagValue(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// statusAll: EC2_VM_STATUS_ALL <id> <url> <ak> <sk> [<filter-name> <filter-value>].
// Success: "0" then 8 fields per instance: <id> <state> <client-token|NULL> <keyname|NULL>
// <state-reason|NULL> <public-dns|NULL> <spot-fleet-id|NULL> <annex-name|NULL>.
func (g *Gahp) statusAll(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	a := req.Args
	var in awsec2.DescribeInstancesInput
	if len(a) >= 7 && !gahp.IsNull(a[5]) && !gahp.IsNull(a[6]) {
		in.Filters = []types.Filter{{Name: aws.String(a[5]), Values: []string{a[6]}}}
	}
	paged := in
	paged.MaxResults = aws.Int32(statusPageSize)
	insts, err := r.describeInstances(ctx, paged)
	if err != nil && rejectsParameter(err) {
		insts, err = r.describeInstances(ctx, in)
	}
	if err != nil {
		return r.done(callFailure(err, ""))
	}
	fields := make([]string, 0, 8*len(insts))
	for _, inst := range insts {
		fields = append(fields,
			aws.ToString(inst.InstanceId),
			stateName(inst),
			gahp.OrNull(aws.ToString(inst.ClientToken)),
			gahp.OrNull(aws.ToString(inst.KeyName)),
			gahp.OrNull(stateReason(inst)),
			gahp.OrNull(aws.ToString(inst.PublicDnsName)),
			gahp.OrNull(tagValue(inst.Tags, tagSpotFleet)),
			gahp.OrNull(tagValue(inst.Tags, tagAnnexName)),
		)
	}
	return r.done(success(fields...))
}

// describeSpot follows every page of DescribeSpotInstanceRequests.
func (r *run) describeSpot(ctx context.Context, in awsec2.DescribeSpotInstanceRequestsInput) ([]types.SpotInstanceRequest, error) {
	var all []types.SpotInstanceRequest
	seen := map[string]bool{}
	for range maxPages {
		var out *awsec2.DescribeSpotInstanceRequestsOutput
		page := in
		err := r.call(ctx, "DescribeSpotInstanceRequests", true, func(ctx context.Context) (err error) {
			out, err = r.c.api.DescribeSpotInstanceRequests(ctx, &page)
			return err
		})
		if err != nil {
			return nil, err
		}
		all = append(all, out.SpotInstanceRequests...)
		next := aws.ToString(out.NextToken)
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, &callError{op: "DescribeSpotInstanceRequests", cls: classInternal, err: fmt.Errorf("the cloud repeated NextToken %q", next)}
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
	return nil, &callError{op: "DescribeSpotInstanceRequests", cls: classInternal, err: fmt.Errorf("more than %d pages", maxPages)}
}

// spotTuples: 5 fields per request: <request-id> <state> <launch-group> <instance-id|NULL>
// <status-code|NULL>; the launch group is printed raw (an empty field when unset), as
// HTCondor does.
func spotTuples(sirs []types.SpotInstanceRequest) []string {
	fields := make([]string, 0, 5*len(sirs))
	for _, s := range sirs {
		code := ""
		if s.Status != nil {
			code = aws.ToString(s.Status.Code)
		}
		fields = append(fields, aws.ToString(s.SpotInstanceRequestId), string(s.State),
			aws.ToString(s.LaunchGroup), gahp.OrNull(aws.ToString(s.InstanceId)), gahp.OrNull(code))
	}
	return fields
}

// statusSpot: EC2_VM_STATUS_SPOT <id> <url> <ak> <sk> <spot-request-id>.
func (g *Gahp) statusSpot(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	sirs, err := r.describeSpot(ctx, awsec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{req.Args[5]}})
	if err != nil {
		if IsNotFound(err) {
			return r.done(success())
		}
		return r.done(callFailure(err, ""))
	}
	return r.done(success(spotTuples(sirs)...))
}

// statusAllSpot: EC2_VM_STATUS_ALL_SPOT <id> <url> <ak> <sk>.
func (g *Gahp) statusAllSpot(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	sirs, err := r.describeSpot(ctx, awsec2.DescribeSpotInstanceRequestsInput{})
	if err != nil {
		return r.done(callFailure(err, ""))
	}
	return r.done(success(spotTuples(sirs)...))
}

// createKeypair: EC2_VM_CREATE_KEYPAIR <id> <url> <ak> <sk> <keyname> <private-key-file>.
// The key is written 0600, atomically; /dev/null (or NULL) discards it.
func (g *Gahp) createKeypair(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	in := &awsec2.CreateKeyPairInput{KeyName: aws.String(req.Args[5])}
	var out *awsec2.CreateKeyPairOutput
	err := r.call(ctx, "CreateKeyPair", false, func(ctx context.Context) (err error) {
		out, err = r.c.api.CreateKeyPair(ctx, in)
		return err
	})
	if err != nil {
		return r.done(callFailure(err, codeNeedCheckSSHKey))
	}
	if path := req.Args[6]; !gahp.IsNull(path) && path != DiscardKeyFile {
		if err := writeKeyFile(path, aws.ToString(out.KeyMaterial)); err != nil {
			return r.done((&failure{codeFileIO, "Failed to write private key to file: " + err.Error()}).fields())
		}
	}
	return r.done(success())
}

// destroyKeypair: EC2_VM_DESTROY_KEYPAIR <id> <url> <ak> <sk> <keyname>.
func (g *Gahp) destroyKeypair(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	in := &awsec2.DeleteKeyPairInput{KeyName: aws.String(req.Args[5])}
	err := r.call(ctx, "DeleteKeyPair", true, func(ctx context.Context) error {
		_, err := r.c.api.DeleteKeyPair(ctx, in)
		return err
	})
	if err != nil {
		return r.done(callFailure(err, ""))
	}
	return r.done(success())
}

// associateAddress: EC2_VM_ASSOCIATE_ADDRESS <id> <url> <ak> <sk> <instance-id>
// <ip[:allocation-id]>. With an allocation id (VPC) only AllocationId is sent, else
// PublicIp (HTCondor read a missing allocation id out of bounds, §10.9).
func (g *Gahp) associateAddress(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	in := &awsec2.AssociateAddressInput{InstanceId: aws.String(req.Args[5])}
	if ip, alloc, ok := strings.Cut(req.Args[6], ":"); ok && alloc != "" {
		in.AllocationId = aws.String(alloc)
	} else {
		in.PublicIp = aws.String(ip)
	}
	err := r.call(ctx, "AssociateAddress", true, func(ctx context.Context) error {
		_, err := r.c.api.AssociateAddress(ctx, in)
		return err
	})
	if err != nil {
		return r.done(callFailure(err, ""))
	}
	return r.done(success())
}

// attachVolume: EC2_VM_ATTACH_VOLUME <id> <url> <ak> <sk> <volume-id> <instance-id> <device>.
func (g *Gahp) attachVolume(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	a := req.Args
	in := &awsec2.AttachVolumeInput{VolumeId: aws.String(a[5]), InstanceId: aws.String(a[6]), Device: aws.String(a[7])}
	err := r.call(ctx, "AttachVolume", true, func(ctx context.Context) error {
		_, err := r.c.api.AttachVolume(ctx, in)
		return err
	})
	if err != nil {
		return r.done(callFailure(err, ""))
	}
	return r.done(success())
}

// createTags: EC2_VM_CREATE_TAGS <id> <url> <ak> <sk> <resource-id> <name>=<value>* NULL.
// A tag without '=' has an empty value. With no tag at all there is nothing to do.
func (g *Gahp) createTags(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	a := req.Args
	var tags []types.Tag
	for _, kv := range nullLists(a[6:], 1)[0] {
		k, v, _ := strings.Cut(kv, "=")
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if len(tags) == 0 {
		return r.done(success())
	}
	in := &awsec2.CreateTagsInput{Resources: []string{a[5]}, Tags: tags}
	err := r.call(ctx, "CreateTags", true, func(ctx context.Context) error {
		_, err := r.c.api.CreateTags(ctx, in)
		return err
	})
	if err != nil {
		return r.done(callFailure(err, ""))
	}
	return r.done(success())
}

// serverType: EC2_VM_SERVER_TYPE <id> <url> <ak> <sk>, the gridmanager's ping. One
// DescribeKeyPairs whose raw answer classifies the server (see ServerType).
func (g *Gahp) serverType(ctx context.Context, req gahp.Request) []string {
	r, fail := g.begin(req)
	if fail != nil {
		return fail
	}
	var raw rawResponse
	err := r.call(ctx, "DescribeKeyPairs", true, func(ctx context.Context) error {
		raw = rawResponse{}
		_, err := r.c.api.DescribeKeyPairs(ctx, &awsec2.DescribeKeyPairsInput{}, raw.capture)
		return err
	})
	if err != nil {
		return r.done(callFailure(err, ""))
	}
	return r.done(success(ServerType(raw.server, raw.body)))
}
