package submit

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

const (
	// maxUserDataBytes is EC2's limit on user data, counted before base64 encoding
	// (RunInstances rejects more). ec2_user_data and ec2_user_data_file are sent
	// together, so the limit applies to their sum.
	maxUserDataBytes = 16 << 10

	// fromInstance in either key command means "use the instance's IAM role".
	fromInstance = "FROM INSTANCE"
)

// setEC2 maps the ec2_* submit commands to job attributes (htcondor-ec2.md §5, HTCondor's
// SetGridParams), checking what can be checked before the job runs.
func (jb *jobBuilder) setEC2() error {
	steps := []func() error{jb.setEC2Keys, jb.setEC2Strings, jb.setEC2KeyPair, jb.setEC2UserData, jb.setEC2Volumes, jb.setEC2Iam, jb.setEC2Params, jb.setEC2Tags}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (jb *jobBuilder) setEC2Keys() error {
	access, err := jb.param("ec2_access_key_id", "EC2AccessKeyId", "aws_access_key_id_file")
	if err != nil {
		return err
	}
	secret, err := jb.param("ec2_secret_access_key", "EC2SecretAccessKey", "aws_secret_access_key_file")
	if err != nil {
		return err
	}
	accessFI := access.ok && strings.EqualFold(access.value, fromInstance)
	secretFI := secret.ok && strings.EqualFold(secret.value, fromInstance)
	if accessFI || secretFI {
		// HTCondor sets both attributes from either command. A file for the other key
		// would then be silently half-used, so that mix is refused.
		if accessFI && secret.ok && !secretFI {
			return jb.fail(secret, nil, "%s is %s, so this must be %s too (or both must be key files)", access.key, fromInstance, fromInstance)
		}
		if secretFI && access.ok && !accessFI {
			return jb.fail(access, nil, "%s is %s, so this must be %s too (or both must be key files)", secret.key, fromInstance, fromInstance)
		}
		jb.ad.SetString("EC2AccessKeyId", fromInstance)
		jb.ad.SetString("EC2SecretAccessKey", fromInstance)
		return nil
	}
	for _, k := range []struct {
		p    param
		alt  string
		attr string
		what string
	}{
		{access, "aws_access_key_id_file", "EC2AccessKeyId", "public key file"},
		{secret, "aws_secret_access_key_file", "EC2SecretAccessKey", "private key file"},
	} {
		if !k.p.ok {
			return jb.fail(k.p, nil, "EC2 jobs require a '%s' or '%s' parameter (a key file, or %s)", k.p.key, k.alt, fromInstance)
		}
		path := absPath(jb.iwd, k.p.value)
		st, err := jb.r.checkReadable(path)
		if err != nil {
			return jb.fail(k.p, err, "Failed to open %s %s (%s)", k.what, path, errno(err))
		}
		if err := jb.checkKeyFileMode(k.p, k.what, path, st.Mode()); err != nil {
			return err
		}
		jb.ad.SetString(k.attr, path)
	}
	return nil
}

// checkKeyFileMode warns about a key file that users other than its owner may write (one
// of them could put their own account's key there and receive this user's instances and
// user data), or refuses it when Options.RefuseWritableKeyFiles is set. The warning names
// the file and its mode, never its contents.
func (jb *jobBuilder) checkKeyFileMode(p param, what, path string, mode fs.FileMode) error {
	if mode&othersMayWrite == 0 {
		return nil
	}
	if jb.r.opts.RefuseWritableKeyFiles {
		return jb.fail(p, nil, "the %s %s is writable by others (mode %04o); refused because %s is true: chmod go-w %s", what, path, mode.Perm(), RefuseWritableKeyFilesKnob, path)
	}
	jb.r.warn(fmt.Sprintf("on Line %d of %s: %s: the %s %s is writable by others (mode %04o): chmod go-w %s", p.line, jb.r.f.Name, p.key, what, path, mode.Perm(), path))
	return nil
}

// setEC2Strings handles the commands that are copied into the ad as strings.
func (jb *jobBuilder) setEC2Strings() error {
	for _, k := range []struct {
		keys     []string
		attr     string
		required bool
	}{
		{[]string{"ec2_ami_id", "EC2AmiID"}, "EC2AmiID", true},
		{[]string{"ec2_instance_type", "EC2InstanceType"}, "EC2InstanceType", false},
		{[]string{"ec2_security_groups", "EC2SecurityGroups"}, "EC2SecurityGroups", false},
		{[]string{"ec2_security_ids", "EC2SecurityIDs"}, "EC2SecurityIDs", false},
		{[]string{"ec2_availability_zone", "EC2AvailabilityZone"}, "EC2AvailabilityZone", false},
		{[]string{"ec2_vpc_subnet", "EC2VpcSubnet"}, "EC2VpcSubnet", false},
		{[]string{"ec2_vpc_ip", "EC2VpcIp"}, "EC2VpcIp", false},
		{[]string{"ec2_elastic_ip", "EC2ElasticIp"}, "EC2ElasticIp", false},
		{[]string{"ec2_spot_price", "EC2SpotPrice"}, "EC2SpotPrice", false},
		{[]string{"ec2_block_device_mapping", "EC2BlockDeviceMapping"}, "EC2BlockDeviceMapping", false},
	} {
		p, err := jb.param(k.keys...)
		if err != nil {
			return err
		}
		if !p.ok {
			if k.required {
				return jb.fail(p, nil, "EC2 jobs require a %q parameter", k.keys[0])
			}
			continue
		}
		if k.attr == "EC2SpotPrice" {
			// EC2 rejects anything but a decimal price; say so now rather than when
			// the spot request fails an hour from now.
			if f, err := strconv.ParseFloat(p.value, 64); err != nil || f <= 0 {
				return jb.fail(p, nil, "%q is not a spot price (a positive number of dollars per hour, such as 0.05)", p.value)
			}
		}
		jb.ad.SetString(k.attr, p.value)
	}
	return nil
}

func (jb *jobBuilder) setEC2KeyPair() error {
	pair, err := jb.param("ec2_keypair", "ec2_keyp_air", "EC2KeyPair")
	if err != nil {
		return err
	}
	if pair.ok {
		jb.ad.SetString("EC2KeyPair", pair.value)
	}
	file, err := jb.param("ec2_keypair_file", "ec2_key_pair_file", "EC2KeyPairFile")
	if err != nil || !file.ok {
		return err
	}
	if pair.ok {
		jb.r.warn("EC2 job(s) contain both ec2_keypair && ec2_keypair_file, ignoring ec2_keypair_file")
		return nil
	}
	// The gridmanager creates this file when the instance starts; it need not exist, but
	// its directory must, and be writable, or the private key is lost.
	path := absPath(jb.iwd, file.value)
	if err := jb.r.fs.checkCreatable(path); err != nil {
		return jb.fail(file, err, "cannot create the key pair file %s: %v", path, err)
	}
	jb.ad.SetString("EC2KeyPairFile", path)
	return nil
}

func (jb *jobBuilder) setEC2UserData() error {
	data, err := jb.param("ec2_user_data", "EC2UserData")
	if err != nil {
		return err
	}
	if data.ok {
		jb.ad.SetString("EC2UserData", data.value)
	}
	file, err := jb.param("ec2_user_data_file", "EC2UserDataFile")
	if err != nil {
		return err
	}
	size := int64(len(data.value))
	over := data
	if file.ok {
		path := absPath(jb.iwd, file.value)
		// Only the size matters here; reading stops past the limit, so a huge file
		// costs no memory.
		_, n, err := jb.r.fs.readLimited(path, maxUserDataBytes)
		if err != nil {
			return jb.fail(file, err, "Failed to open user data file %s (%s)", path, errno(err))
		}
		jb.ad.SetString("EC2UserDataFile", path)
		size += n
		over = file
	}
	if size > maxUserDataBytes {
		return jb.fail(over, nil, "the user data is %d bytes (ec2_user_data and ec2_user_data_file together); EC2 accepts at most %d", size, maxUserDataBytes)
	}
	return nil
}

func (jb *jobBuilder) setEC2Volumes() error {
	p, err := jb.param("ec2_ebs_volumes", "EC2ElasticBlockStorageVolumes")
	if err != nil || !p.ok {
		return err
	}
	for _, v := range strings.Split(p.value, ",") {
		parts := strings.Split(strings.TrimSpace(v), ":")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return jb.fail(p, nil, "'ec2_ebs_volumes' has incorrect format: it should be <volume-id>:<device>[,<volume-id>:<device>...], as in vol-35bcc15e:/dev/sdf")
		}
	}
	if _, ok := jb.ad.Lookup("EC2AvailabilityZone"); !ok {
		return jb.fail(p, nil, "'ec2_ebs_volumes' requires 'ec2_availability_zone' (a volume can be attached only in its own zone)")
	}
	jb.ad.SetString("EC2ElasticBlockStorageVolumes", p.value)
	return nil
}

// setEC2Iam sets the instance profile. An instance has one profile, named by ARN or by
// name; with both, the ARN wins. HTCondor inverts the test and drops a name given alone
// (htcondor-ec2.md §10, item 2); here the name works on its own.
func (jb *jobBuilder) setEC2Iam() error {
	arn, err := jb.param("ec2_iam_profile_arn", "EC2IamProfileArn")
	if err != nil {
		return err
	}
	name, err := jb.param("ec2_iam_profile_name", "EC2IamProfileName")
	if err != nil {
		return err
	}
	switch {
	case arn.ok:
		jb.ad.SetString("EC2IamProfileArn", arn.value)
		if name.ok {
			jb.r.warn("EC2 job(s) contain both ec2_iam_profile_arn and ec2_iam_profile_name; ignoring ec2_iam_profile_name.")
		}
	case name.ok:
		jb.ad.SetString("EC2IamProfileName", name.value)
	}
	return nil
}

// prefixed returns the macros whose names start with prefix (case-insensitively), sorted,
// with the rest of each name as written.
func (jb *jobBuilder) prefixed(prefix string) (names []string, defs []macroDef) {
	var keys []string
	for k := range jb.r.table {
		if len(k) > len(prefix) && strings.HasPrefix(k, strings.ToLower(prefix)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		d := jb.r.table[k]
		names = append(names, d.name[len(prefix):])
		defs = append(defs, d)
	}
	return names, defs
}

// setEC2Params handles ec2_parameter_names and ec2_parameter_<Name>: extra RunInstances
// parameters, stored as EC2Param_<Name> with the names in EC2ParamNames (", "-joined).
// A '.' in a parameter name is written '_' in the key, since keys become attributes.
func (jb *jobBuilder) setEC2Params() error {
	listed, err := jb.param("ec2_parameter_names", "EC2ParamNames")
	if err != nil {
		return err
	}
	names := splitItems(listed.value)
	has := func(n string) bool {
		for _, m := range names {
			if strings.EqualFold(strings.ReplaceAll(m, ".", "_"), n) {
				return true
			}
		}
		return false
	}
	set := map[string]bool{}
	keys, defs := jb.prefixed("ec2_parameter_")
	for i, n := range keys {
		if strings.EqualFold(n, "names") {
			continue
		}
		d := defs[i]
		if !isAttrName(n) {
			return errorf(jb.r.f.Name, d.line, d.written, nil, "%q cannot be part of an attribute name: write '.' in parameter names as '_' in the key", n)
		}
		p, err := jb.param(d.name)
		if err != nil {
			return err
		}
		if !p.ok {
			continue
		}
		jb.ad.SetString("EC2Param_"+n, p.value)
		set[strings.ToLower(n)] = true
		if !has(n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if !set[strings.ToLower(strings.ReplaceAll(n, ".", "_"))] {
			return jb.fail(listed, nil, "ec2_parameter_names lists %q but ec2_parameter_%s is not set", n, strings.ReplaceAll(n, ".", "_"))
		}
	}
	if len(names) > 0 {
		jb.ad.SetString("EC2ParamNames", strings.Join(names, ", "))
	}
	return nil
}

// setEC2Tags handles ec2_tag_names and ec2_tag_<Name> (or EC2Tag<Name>). Submit keys
// lose nothing of their case here, but EC2 tag names are case-sensitive and attribute
// names are not, so ec2_tag_names can give the exact spelling. The Name tag defaults to
// the executable, as in HTCondor, unless WantNameTag is false.
func (jb *jobBuilder) setEC2Tags() error {
	listed, err := jb.param("ec2_tag_names", "EC2TagNames")
	if err != nil {
		return err
	}
	names := splitItems(listed.value)
	has := func(n string) bool {
		for _, m := range names {
			if strings.EqualFold(m, n) {
				return true
			}
		}
		return false
	}
	fromList := len(names)
	for _, prefix := range []string{"ec2_tag_", "EC2Tag"} {
		keys, _ := jb.prefixed(prefix)
		for _, n := range keys {
			if hasPrefixFold(n, "names") || has(n) {
				continue
			}
			names = append(names, n)
		}
	}
	var tags []string
	for i, n := range names {
		if !isAttrName(n) {
			return jb.fail(listed, nil, "tag name %q cannot be part of an attribute name (EC2Tag%s)", n, n)
		}
		p, err := jb.param("ec2_tag_"+n, "EC2Tag"+n)
		if err != nil {
			return err
		}
		if !p.ok {
			if i >= fromList {
				continue // a tag key whose value expanded to nothing: unset
			}
			// HTCondor skips such a tag, and its gridmanager later fails on the empty
			// tag request (htcondor-ec2.md §10, item 8).
			return jb.fail(listed, nil, "ec2_tag_names lists %q but ec2_tag_%s is not set", n, n)
		}
		jb.ad.SetString("EC2Tag"+n, p.value)
		tags = append(tags, n)
	}
	names = tags
	if !has("Name") {
		want := true
		p, err := jb.param("WantNameTag")
		if err != nil {
			return err
		}
		if p.ok {
			if want, err = parseBool(p.value); err != nil {
				return jb.fail(p, err, "%v", err)
			}
		}
		if cmd, ok := jb.ad.Lookup("Cmd"); ok && want {
			jb.ad.Set("EC2TagName", cmd)
		}
	}
	if len(names) > 0 {
		jb.ad.SetString("EC2TagNames", strings.Join(names, ","))
	}
	return nil
}
