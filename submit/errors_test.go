package submit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrors has one case per class of error: each names the file, the line and the key.
// Lines count from 1 in the whole file; base is lines 1 to 6.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string // whole file; "<base>" is replaced by base
		line int
		key  string
		msg  string
	}{
		// Line syntax, reported by Parse.
		{"illegal identifier", "<base>my-key = 3\nqueue\n", 7, "my-key", "Illegal Identifier: my-key"},
		{"bad +Attr name", "<base>+1abc = 3\nqueue\n", 7, "+1abc", "Illegal Identifier"},
		{"missing =", "<base>ec2_instance_type m1.small\nqueue\n", 7, "ec2_instance_type", "Syntax Error, missing : or ="},
		{"colon syntax", "<base>ec2_instance_type : m1.small\nqueue\n", 7, "ec2_instance_type", "'key : value'"},
		{"if is refused", "<base>if defined X\nqueue\nendif\n", 7, "if", "conditionals (if/elif/else/endif) are not supported"},
		{"include is refused", "<base>include : other.sub\nqueue\n", 7, "include", "include is not supported"},
		{"unclosed here-doc", "<base>ec2_user_data @=end\nline\n", 7, "ec2_user_data", "no closing @end"},
		{"+Attr expression does not parse", "<base>+Weight = 2 *\nqueue\n", 7, "+Weight", "Parse error in expression"},
		{"MY.Attr expression does not parse", "<base>MY.Note = \"unterminated\nqueue\n", 7, "MY.Note", "Parse error in expression"},
		{"policy expression does not parse", "<base>periodic_hold = (JobStatus == \nqueue\n", 7, "periodic_hold", "Parse error in expression"},
		{"queue statement does not parse", "<base>queue banana\n", 7, "queue", "Invalid Queue count expression"},
		{"queue count out of range", "<base>queue -3\n", 7, "queue", "out of range"},
		{"unclosed item list", "<base>queue in (a\nb\n", 7, "queue", "not closed"},
		// Expressions and queue statements with macros, reported by Jobs.
		{"expression does not parse after expansion", "<base>op = &&\n+Weight = 1 $(op)\nqueue\n", 8, "+Weight", "Parse error in expression \"1 &&\""},
		{"queue statement does not parse after expansion", "<base>n = many\nqueue $(n)\n", 8, "queue", "Invalid Queue count expression \"many\""},
		{"queue from a missing file", "<base>queue X from nowhere.txt\n", 7, "queue", "Failed to open item file"},
		// What the job needs.
		{"no queue statement", "<base>", 0, "queue", `"job.sub" doesn't contain any "queue" commands`},
		{"missing universe", strings.Replace(base, "universe = grid\n", "", 1) + "queue\n", 6, "universe", "ec2grid runs only universe = grid"},
		{"other universe", "<base>universe = vanilla\nqueue\n", 7, "universe", `universe "vanilla" is not supported`},
		{"missing grid_resource", strings.Replace(base, "grid_resource = ec2 https://ec2.us-east-1.amazonaws.com/\n", "", 1) + "queue\n", 6, "grid_resource", "No resource identifier"},
		{"grid_resource without a URL", "<base>grid_resource = ec2\nqueue\n", 7, "grid_resource", "EC2 grid jobs require a service URL"},
		{"other grid type", "<base>grid_resource = batch slurm\nqueue\n", 7, "grid_resource", `grid type "batch" is not supported`},
		{"grid_resource with a bad URL", "<base>grid_resource = ec2 x509://ec2.amazonaws.com/\nqueue\n", 7, "grid_resource", "not an http:// or https://"},
		{"grid_resource with a bad URL, no host", "<base>grid_resource = ec2 https:///path\nqueue\n", 7, "grid_resource", "not an http:// or https://"},
		{"grid_resource with two URLs", "<base>grid_resource = ec2 https://a/ https://b/\nqueue\n", 7, "grid_resource", "one service URL"},
		{"missing executable", strings.Replace(base, "executable = ec2-test\n", "", 1) + "queue\n", 6, "executable", "No 'executable' parameter"},
		{"missing ec2_ami_id", strings.Replace(base, "ec2_ami_id = ami-0123456789abcdef0\n", "", 1) + "queue\n", 6, "ec2_ami_id", `EC2 jobs require a "ec2_ami_id" parameter`},
		{"missing access key", strings.Replace(base, "ec2_access_key_id = AccessKeyID\n", "", 1) + "queue\n", 6, "ec2_access_key_id", "EC2 jobs require a 'ec2_access_key_id' or 'aws_access_key_id_file' parameter"},
		{"missing secret key", strings.Replace(base, "ec2_secret_access_key = SecretAccessKey\n", "", 1) + "queue\n", 6, "ec2_secret_access_key", "EC2 jobs require a 'ec2_secret_access_key'"},
		{"missing access key file", "<base>ec2_access_key_id = NoSuchKey\nqueue\n", 7, "ec2_access_key_id", "Failed to open public key file <dir>/NoSuchKey (no such file or directory)"},
		{"secret key file is a directory", "<base>ec2_secret_access_key = subdir\nqueue\n", 7, "ec2_secret_access_key", "Failed to open private key file <dir>/subdir (is a directory)"},
		{"half FROM INSTANCE", "<base>ec2_access_key_id = FROM INSTANCE\nqueue\n", 5, "ec2_secret_access_key", "must be FROM INSTANCE too"},
		{"missing user data file", "<base>ec2_user_data_file = nothing.txt\nqueue\n", 7, "ec2_user_data_file", "Failed to open user data file <dir>/nothing.txt (no such file or directory)"},
		{"user data file is a directory", "<base>ec2_user_data_file = subdir\nqueue\n", 7, "ec2_user_data_file", "Failed to open user data file <dir>/subdir (is a directory)"},
		{"user data over 16 KB", "<base>ec2_user_data = " + strings.Repeat("x", 16385) + "\nqueue\n", 7, "ec2_user_data", "the user data is 16385 bytes"},
		{"keypair file in a missing directory", "<base>ec2_keypair_file = nodir/k.pem\nqueue\n", 7, "ec2_keypair_file", "directory <dir>/nodir does not exist"},
		{"keypair file is a directory", "<base>ec2_keypair_file = subdir\nqueue\n", 7, "ec2_keypair_file", "<dir>/subdir is a directory"},
		{"log in a missing directory", "<base>log = nodir/job.log\nqueue\n", 7, "log", "directory <dir>/nodir does not exist"},
		{"missing initialdir", "<base>initialdir = nodir\nqueue\n", 7, "initialdir", "No such directory: <dir>/nodir"},
		{"ebs volumes format", "<base>ec2_availability_zone = z\nec2_ebs_volumes = vol-1\nqueue\n", 8, "ec2_ebs_volumes", "incorrect format"},
		{"ebs volumes need a zone", "<base>ec2_ebs_volumes = vol-1:/dev/sdf\nqueue\n", 7, "ec2_ebs_volumes", "requires 'ec2_availability_zone'"},
		{"spot price", "<base>ec2_spot_price = cheap\nqueue\n", 7, "ec2_spot_price", "is not a spot price"},
		{"listed tag without a value", "<base>ec2_tag_names = Project\nqueue\n", 7, "ec2_tag_names", `lists "Project" but ec2_tag_Project is not set`},
		{"listed parameter without a value", "<base>ec2_parameter_names = A.B\nqueue\n", 7, "ec2_parameter_names", `lists "A.B" but ec2_parameter_A_B is not set`},
		{"hold is not a boolean", "<base>hold = maybe\nqueue\n", 7, "hold", "not a boolean"},
		{"priority is not an integer", "<base>priority = high\nqueue\n", 7, "priority", "not an integer"},
		{"self-referential macro", "<base>a = $(b)\nb = $(a)\nec2_instance_type = $(a)\nqueue\n", 9, "ec2_instance_type", "refers to itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			if err := os.Mkdir(filepath.Join(fx.dir, "subdir"), 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := fx.submitText(strings.ReplaceAll(tt.src, "<base>", base))
			if err == nil {
				t.Fatal("no error")
			}
			se := asError(t, err)
			msg := strings.ReplaceAll(tt.msg, "<dir>", fx.dir)
			if se.File != "job.sub" || se.Line != tt.line || se.Key != tt.key || !strings.Contains(se.Msg, msg) {
				t.Errorf("got file %q line %d key %q msg %q\nwant file \"job.sub\" line %d key %q msg containing %q",
					se.File, se.Line, se.Key, se.Msg, tt.line, tt.key, msg)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "job.sub", Line: 7, Key: "ec2_ami_id", Msg: "EC2 jobs require a \"ec2_ami_id\" parameter"},
			`on Line 7 of job.sub: ec2_ami_id: EC2 jobs require a "ec2_ami_id" parameter`},
		{&Error{File: "job.sub", Key: "queue", Msg: "no queue"}, "in job.sub: queue: no queue"},
		{&Error{File: "<stdin>", Line: 2, Msg: "too big"}, "on Line 2 of <stdin>: too big"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestErrorUnwraps checks that file errors can be tested with errors.Is.
func TestErrorUnwraps(t *testing.T) {
	fx := newFixture(t)
	_, err := fx.submitText(base + "ec2_access_key_id = missing\nqueue\n")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
}

// TestAllOrNothing checks that one bad job stops the whole submission.
func TestAllOrNothing(t *testing.T) {
	fx := newFixture(t)
	writeFile(t, filepath.Join(fx.dir, "good"), "x")
	sub, err := fx.submitText(base + "ec2_user_data_file = $(Item)\nqueue in (good, good, bad, good)\n")
	if err == nil || sub != nil {
		t.Fatalf("got %v, %v; want no submission and an error", sub, err)
	}
	if !strings.Contains(err.Error(), "bad") {
		t.Errorf("error %v does not name the bad file", err)
	}
}

// TestUnreadableAndUnwritable needs permissions to matter, so it does not run as root.
func TestUnreadableAndUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read and write anything")
	}
	fx := newFixture(t)
	if err := os.Chmod(filepath.Join(fx.dir, "AccessKeyID"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.submitText(base + "queue\n"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("unreadable key file: %v", err)
	}
	os.Chmod(filepath.Join(fx.dir, "AccessKeyID"), 0o600)
	ro := filepath.Join(fx.dir, "ro")
	os.Mkdir(ro, 0o555)
	if _, err := fx.submitText(base + "ec2_keypair_file = ro/k.pem\nqueue\n"); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Errorf("unwritable key pair directory: %v", err)
	}
}
