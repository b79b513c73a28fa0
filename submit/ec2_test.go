package submit

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestEC2Commands maps each ec2_* command (and the other commands a grid job uses) to its
// job attribute.
func TestEC2Commands(t *testing.T) {
	tests := []struct {
		name  string
		lines string
		want  map[string]string // attribute → old-syntax value, or "<unset>"
	}{
		{"ami and instance type", "ec2_instance_type = m5.large\n", map[string]string{"EC2AmiID": `"ami-0123456789abcdef0"`, "EC2InstanceType": `"m5.large"`}},
		{"no instance type by default", "", map[string]string{"EC2InstanceType": "<unset>", "EC2UserData": "<unset>", "EC2KeyPair": "<unset>"}},
		{"FROM INSTANCE", "ec2_access_key_id = FROM INSTANCE\nec2_secret_access_key = from instance\n",
			map[string]string{"EC2AccessKeyId": `"FROM INSTANCE"`, "EC2SecretAccessKey": `"FROM INSTANCE"`}},
		{"FROM INSTANCE in one key sets both", "ec2_access_key_id = FROM INSTANCE\nec2_secret_access_key =\n",
			map[string]string{"EC2AccessKeyId": `"FROM INSTANCE"`, "EC2SecretAccessKey": `"FROM INSTANCE"`}},
		{"aws_*_file spellings", "ec2_access_key_id =\nec2_secret_access_key =\naws_access_key_id_file = AccessKeyID\naws_secret_access_key_file = SecretAccessKey\n",
			map[string]string{"EC2AccessKeyId": `"<dir>/AccessKeyID"`, "EC2SecretAccessKey": `"<dir>/SecretAccessKey"`}},
		{"user data string", "ec2_user_data = Hello EC2!\n", map[string]string{"EC2UserData": `"Hello EC2!"`, "EC2UserDataFile": "<unset>"}},
		{"user data file", "ec2_user_data_file = AccessKeyID\n", map[string]string{"EC2UserDataFile": `"<dir>/AccessKeyID"`}},
		{"keypair", "ec2_keypair = my-key\n", map[string]string{"EC2KeyPair": `"my-key"`, "EC2KeyPairFile": "<unset>"}},
		{"keypair alternative spelling", "ec2_keyp_air = my-key\n", map[string]string{"EC2KeyPair": `"my-key"`}},
		{"keypair file", "ec2_keypair_file = out/../my.pem\n", map[string]string{"EC2KeyPairFile": `"<dir>/my.pem"`}},
		{"keypair file alternative spelling", "ec2_key_pair_file = my.pem\n", map[string]string{"EC2KeyPairFile": `"<dir>/my.pem"`}},
		{"keypair wins over keypair file", "ec2_keypair = k\nec2_keypair_file = my.pem\n", map[string]string{"EC2KeyPair": `"k"`, "EC2KeyPairFile": "<unset>"}},
		{"security groups and ids", "ec2_security_groups = default, web\nec2_security_ids = sg-1 sg-2\n",
			map[string]string{"EC2SecurityGroups": `"default, web"`, "EC2SecurityIDs": `"sg-1 sg-2"`}},
		{"network", "ec2_availability_zone = us-east-1a\nec2_vpc_subnet = subnet-1\nec2_vpc_ip = 10.0.0.5\nec2_elastic_ip = 54.1.2.3:eipalloc-1\n",
			map[string]string{"EC2AvailabilityZone": `"us-east-1a"`, "EC2VpcSubnet": `"subnet-1"`, "EC2VpcIp": `"10.0.0.5"`, "EC2ElasticIp": `"54.1.2.3:eipalloc-1"`}},
		{"ebs volumes", "ec2_availability_zone = us-east-1a\nec2_ebs_volumes = vol-1:/dev/sdf, vol-2:/dev/sdg\n",
			map[string]string{"EC2ElasticBlockStorageVolumes": `"vol-1:/dev/sdf, vol-2:/dev/sdg"`}},
		{"spot price", "ec2_spot_price = 0.011\n", map[string]string{"EC2SpotPrice": `"0.011"`}},
		{"block device mapping", "ec2_block_device_mapping = ephemeral0:/dev/sdb, ephemeral1:/dev/sdc\n",
			map[string]string{"EC2BlockDeviceMapping": `"ephemeral0:/dev/sdb, ephemeral1:/dev/sdc"`}},
		{"iam profile arn", "ec2_iam_profile_arn = arn:aws:iam::123:instance-profile/p\n", map[string]string{"EC2IamProfileArn": `"arn:aws:iam::123:instance-profile/p"`}},
		{"iam profile name without an arn", "ec2_iam_profile_name = worker\n", map[string]string{"EC2IamProfileName": `"worker"`, "EC2IamProfileArn": "<unset>"}},
		{"iam arn wins over name", "ec2_iam_profile_arn = arn:x\nec2_iam_profile_name = worker\n", map[string]string{"EC2IamProfileArn": `"arn:x"`, "EC2IamProfileName": "<unset>"}},
		{"parameters", "ec2_parameter_names = Placement.Tenancy, InstanceInitiatedShutdownBehavior\nec2_parameter_Placement_Tenancy = dedicated\nec2_parameter_InstanceInitiatedShutdownBehavior = terminate\n",
			map[string]string{"EC2ParamNames": `"Placement.Tenancy, InstanceInitiatedShutdownBehavior"`, "EC2Param_Placement_Tenancy": `"dedicated"`, "EC2Param_InstanceInitiatedShutdownBehavior": `"terminate"`}},
		{"parameters without a names list", "ec2_parameter_EbsOptimized = true\n", map[string]string{"EC2ParamNames": `"EbsOptimized"`, "EC2Param_EbsOptimized": `"true"`}},
		{"tags", "ec2_tag_names = Project, CostCenter\nec2_tag_Project = atlas\nec2_tag_CostCenter = 42\n",
			map[string]string{"EC2TagNames": `"Project,CostCenter"`, "EC2TagProject": `"atlas"`, "EC2TagCostCenter": `"42"`, "EC2TagName": `"ec2-test"`}},
		{"tags without a names list keep the key's case", "ec2_tag_Owner = alice\n", map[string]string{"EC2TagNames": `"Owner"`, "EC2TagOwner": `"alice"`}},
		{"Name tag overrides the executable", "ec2_tag_Name = web-1\n", map[string]string{"EC2TagName": `"web-1"`, "EC2TagNames": `"Name"`}},
		{"Name tag defaults to the executable", "", map[string]string{"EC2TagName": `"ec2-test"`, "EC2TagNames": "<unset>"}},
		{"WantNameTag = false", "WantNameTag = false\n", map[string]string{"EC2TagName": "<unset>"}},
		{"log", "log = logs/../job.log\n", map[string]string{"UserLog": `"<dir>/job.log"`}},
		{"absolute log", "log = <dir>/abs.log\n", map[string]string{"UserLog": `"<dir>/abs.log"`}},
		{"grid_resource kept as written", "grid_resource = EC2 http://localhost:5055/\n", map[string]string{"GridResource": `"EC2 http://localhost:5055/"`}},
		{"universe is case-insensitive", "universe = GRID\n", map[string]string{"JobUniverse": "9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			ads := fx.jobs(t, base+strings.ReplaceAll(tt.lines, "<dir>", fx.dir)+"queue\n")
			for name, want := range tt.want {
				want = strings.ReplaceAll(want, "<dir>", fx.dir)
				if got := attr(ads[0], name); got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
		})
	}
}

// TestUserDataLimit checks EC2's 16 KB limit, on the string and the file together.
func TestUserDataLimit(t *testing.T) {
	fx := newFixture(t)
	writeFile(t, filepath.Join(fx.dir, "half"), strings.Repeat("x", 8192))
	writeFile(t, filepath.Join(fx.dir, "full"), strings.Repeat("x", 16384))
	ok := []string{
		"ec2_user_data = " + strings.Repeat("y", 16384) + "\n",
		"ec2_user_data_file = full\n",
		"ec2_user_data_file = half\nec2_user_data = " + strings.Repeat("y", 8192) + "\n",
	}
	for _, lines := range ok {
		if _, err := fx.submitText(base + lines + "queue\n"); err != nil {
			t.Errorf("%.60s...: %v", lines, err)
		}
	}
	bad := []struct{ lines, key string }{
		{"ec2_user_data = " + strings.Repeat("y", 16385) + "\n", "ec2_user_data"},
		{"ec2_user_data_file = full\nec2_user_data = y\n", "ec2_user_data_file"},
		{"ec2_user_data_file = half\nec2_user_data = " + strings.Repeat("y", 8193) + "\n", "ec2_user_data_file"},
	}
	for _, b := range bad {
		_, err := fx.submitText(base + b.lines + "queue\n")
		if err == nil {
			t.Errorf("%.60s...: no error", b.lines)
			continue
		}
		se := asError(t, err)
		if se.Key != b.key || se.Line != 7 || !strings.Contains(se.Msg, "at most 16384") {
			t.Errorf("%.60s...: got %v", b.lines, err)
		}
	}
}
