package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ec2grid/ec2grid/cloud"
	"github.com/ec2grid/ec2grid/cloud/faults"
)

// defaultListen is loopback on a port the kernel picks: running user data is running
// someone's code, so the cloud is reachable from this machine only unless --listen says
// otherwise, and the first stdout line tells scripts the port.
const defaultListen = "127.0.0.1:0"

// The log encodings --log-format accepts. Console is the default because the usual reader
// is a person at a terminal running a demo; json is for log collectors.
const (
	logConsole = "console"
	logJSON    = "json"
)

// cloudOptions is the part of the `ec2grid cloud` command line that is not the cloud's
// configuration (which goes straight into a cloud.Config).
type cloudOptions struct {
	listen     string
	state      string
	configFile string
	logFormat  string
	logLevel   zapcore.Level
}

// runCloud is `ec2grid cloud`.
func runCloud(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, cfg, err := parseCloudArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "ec2grid cloud: %v\n", err)
		return exitUsage
	}
	log := newLogger(stderr, opts.logFormat, opts.logLevel)
	// Sync fails harmlessly on a terminal, so its error is not a failure of the command.
	defer func() { _ = log.Sync() }()
	if err := serveCloud(ctx, opts.listen, cfg, stdout, log); err != nil {
		log.Error("ec2grid cloud stopped", zap.Error(err))
		return exitFailure
	}
	return exitOK
}

// parseCloudArgs parses the command line of `ec2grid cloud` and loads its config file.
// Flags override the file: the arguments are parsed twice, once to find --config (and to
// report any bad flag before the file is read), then again onto the file's values. It
// returns flag.ErrHelp after printing the usage for -h, and a configError for anything
// wrong.
func parseCloudArgs(args []string, stderr io.Writer) (*cloudOptions, cloud.Config, error) {
	var opts cloudOptions
	var scratch cloud.Config
	fs := cloudFlags(&opts, &scratch, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, cloud.Config{}, err
		}
		return nil, cloud.Config{}, &configError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, cloud.Config{}, configErrorf("unexpected argument %q", fs.Arg(0))
	}
	if err := opts.check(); err != nil {
		return nil, cloud.Config{}, err
	}
	state, err := filepath.Abs(opts.state)
	if err != nil {
		return nil, cloud.Config{}, configErrorf("--state %q: %v", opts.state, err)
	}
	// Absolute, because instance processes run in directories under it and the server
	// should not depend on the working directory it was started from.
	cfg := cloud.Config{StateDir: state}
	if opts.configFile != "" {
		if err := loadConfigFile(opts.configFile, &cfg); err != nil {
			return nil, cloud.Config{}, err
		}
	}
	var again cloudOptions
	if err := cloudFlags(&again, &cfg, io.Discard).Parse(args); err != nil {
		return nil, cloud.Config{}, &configError{msg: err.Error()}
	}
	cfg.StateDir = state
	if cfg.Spot.Interval > 0 && cfg.Spot.Interval < minSpotInterval {
		return nil, cloud.Config{}, configErrorf("--spot-interval %v: want 0s (a fixed price) or at least %v", cfg.Spot.Interval, minSpotInterval)
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, cloud.Config{}, &configError{msg: err.Error()}
	}
	return &opts, cfg, nil
}

// check reports a missing or malformed option.
func (o *cloudOptions) check() error {
	if o.state == "" {
		return configErrorf("--state DIR is required")
	}
	if o.logFormat != logConsole && o.logFormat != logJSON {
		return configErrorf("--log-format %q: want %s or %s", o.logFormat, logConsole, logJSON)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return configErrorf("--listen %q: %v", o.listen, err)
	}
	return nil
}

// cloudFlags defines the flags of `ec2grid cloud`: the options in o, and the cloud's
// settings bound to cfg's fields with cfg's current values as defaults, so a flag that is
// not given leaves the config file's value alone.
func cloudFlags(o *cloudOptions, cfg *cloud.Config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ec2grid cloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ec2grid cloud --state DIR [--listen ADDR] [--config FILE.hcl] [flags]\n\n"+
			"Runs a local EC2-compatible cloud. The first line on stdout is its endpoint URL;\n"+
			"logs go to stderr. Flags override the config file. See docs/ec2grid-cloud.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.listen, "listen", defaultListen, "`address` to listen on; a non-loopback address exposes instance user data to the network")
	fs.StringVar(&o.state, "state", "", "state `directory` (instances, keys, the demo account's credentials); required")
	fs.StringVar(&o.configFile, "config", "", "HCL configuration `file`")
	fs.StringVar(&o.logFormat, "log-format", logConsole, "log encoding on stderr: console or json")
	o.logLevel = zapcore.InfoLevel
	fs.TextVar(&o.logLevel, "log-level", zapcore.InfoLevel, "least severe `level` logged: debug, info, warn or error")

	fs.Var(&choiceValue{dst: &cfg.Flavor, choices: flavors()}, "flavor",
		"server `flavor` to imitate: "+strings.Join(flavors(), ", ")+" (default aws)")
	fs.Var(&choiceValue{dst: &cfg.Region}, "region", "`region` the cloud serves (default us-east-1)")
	fs.Func("zones", "comma-separated availability `zones`, replacing the config file's (default REGIONa,REGIONb)", func(s string) error {
		zones := strings.Split(s, ",")
		for i := range zones {
			zones[i] = strings.TrimSpace(zones[i])
		}
		if err := checkZones(zones); err != nil {
			return err
		}
		cfg.Zones = zones
		return nil
	})
	fs.Var((*durationValue)(&cfg.BootDelay), "boot-delay", "how long an instance stays pending, a `duration` like 500ms (default 1s)")
	fs.Var((*durationValue)(&cfg.TerminatedRetention), "terminated-retention", "how long terminated instances stay visible, a `duration` (default 1h)")
	fs.Var(&choiceValue{dst: &cfg.InstanceUser}, "instance-user", "`user` instance processes run as when the cloud runs as root (default nobody)")
	fs.BoolVar(&cfg.AllowRootInstances, "allow-root-instances", cfg.AllowRootInstances, "let instance user data run as root when the cloud runs as root")

	fs.Var((*priceValue)(&cfg.Spot.InitialPrice), "spot-initial-price", "spot market's starting `price`")
	fs.Var((*priceValue)(&cfg.Spot.MinPrice), "spot-min-price", "lowest spot `price`")
	fs.Var((*priceValue)(&cfg.Spot.MaxPrice), "spot-max-price", "highest spot `price`")
	fs.Var((*priceValue)(&cfg.Spot.Step), "spot-step", "largest move of the spot `price` per interval")
	fs.Var((*durationValue)(&cfg.Spot.Interval), "spot-interval", "how often the spot price moves, a `duration`; 0 keeps it fixed")

	// The faults package owns its flags (-fault-latency, -fault-throttle, ...); the
	// short names this command has always documented are aliases of two of them.
	cfg.Faults.RegisterFlags(fs)
	fs.StringVar(&cfg.Faults.Profile, "fault-profile", cfg.Faults.Profile, "alias of -fault-throttle-profile: "+faults.ProfileAWSLimits+" for AWS-like throttling")
	fs.Float64Var(&cfg.Faults.InternalErrorRate, "fault-error-rate", cfg.Faults.InternalErrorRate, "alias of -fault-internal-error-rate: `FRACTION` of requests answered 500 InternalError")
	return fs
}

// choiceValue is a string flag that must be non-empty and, if choices is set, one of them.
type choiceValue struct {
	dst     *string
	choices []string
}

func (v *choiceValue) String() string {
	if v == nil || v.dst == nil {
		return ""
	}
	return *v.dst
}

func (v *choiceValue) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	if v.choices != nil && !slices.Contains(v.choices, s) {
		return fmt.Errorf("not one of %s", strings.Join(v.choices, ", "))
	}
	*v.dst = s
	return nil
}

// durationValue is a time.Duration flag that refuses negative durations.
type durationValue time.Duration

func (v *durationValue) String() string {
	if v == nil || *v == 0 {
		return ""
	}
	return time.Duration(*v).String()
}

func (v *durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v = durationValue(d)
	return nil
}

// priceValue is a float64 flag that refuses negative numbers.
type priceValue float64

func (v *priceValue) String() string {
	if v == nil || *v == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(*v), 'g', -1, 64)
}

func (v *priceValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0) || math.IsInf(f, 0) {
		return fmt.Errorf("%q is not a price (a number >= 0)", s)
	}
	*v = priceValue(f)
	return nil
}

// newLogger makes the zap logger writing to stderr in the chosen encoding. It does not
// sample: a test bed's log is evidence, and dropping repeated lines would hide the calls
// a test is counting.
func newLogger(w io.Writer, format string, level zapcore.Level) *zap.Logger {
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if format == logJSON {
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(w))))
}

// serveCloud runs the cloud until ctx ends, then closes it gracefully.
func serveCloud(ctx context.Context, listen string, cfg cloud.Config, stdout io.Writer, log *zap.Logger) error {
	demo, err := cloud.EnsureDemoAccount(cfg.StateDir)
	if err != nil {
		return fmt.Errorf("demo account in %s: %w", cfg.StateDir, err)
	}
	cfg.Accounts = withAccount(cfg.Accounts, demo)
	credDir := filepath.Join(cfg.StateDir, "credentials", demoAccountName)
	// The key files, never the secret: this log may end up in a CI transcript.
	log.Info("demo account",
		zap.String("access_key_id", demo.AccessKeyID),
		zap.String("access_key_id_file", filepath.Join(credDir, "AccessKeyID")),
		zap.String("secret_access_key_file", filepath.Join(credDir, "SecretAccessKey")))

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	// New would close the server itself when ctx ends; the command does that below, after
	// saying so in the log, so New gets a context that only carries values.
	srv, err := cloud.New(context.WithoutCancel(ctx), cfg, log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("start the cloud: %w", err)
	}
	url := endpointURL(ln.Addr())
	if _, err := fmt.Fprintln(stdout, url); err != nil {
		srv.Close()
		ln.Close()
		return fmt.Errorf("print the endpoint URL: %w", err)
	}
	if !isLoopback(ln.Addr()) {
		log.Warn("LISTENING BEYOND THIS MACHINE: anyone who can reach this address and holds an account's keys can run code here as the instance user; use --listen 127.0.0.1:PORT unless you mean it",
			zap.String("listen", ln.Addr().String()))
	}
	log.Info("ec2grid cloud serving", zap.String("url", url), zap.String("flavor", orDefault(cfg.Flavor, cloud.FlavorAWS)),
		zap.String("region", orDefault(cfg.Region, cloud.DefaultRegion)), zap.String("state", cfg.StateDir))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		err := srv.Close()
		// Whatever Serve says now is its answer to Close (it may not even have started
		// serving), not a failure of its own.
		if serr := <-served; !isServerClosed(serr) {
			log.Debug("serve ended by close", zap.Error(serr))
		}
		if err != nil {
			return fmt.Errorf("close the cloud: %w", err)
		}
		log.Info("stopped")
		return nil
	case err := <-served:
		cerr := srv.Close()
		if isServerClosed(err) {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		if cerr != nil {
			return fmt.Errorf("close the cloud: %w", cerr)
		}
		return nil
	}
}

// isServerClosed reports the errors Serve returns after Close: a normal end.
func isServerClosed(err error) bool {
	return err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed)
}

// withAccount adds acct to accounts unless an account of its name is there already.
func withAccount(accounts []cloud.Account, acct cloud.Account) []cloud.Account {
	for _, a := range accounts {
		if a.Name == acct.Name {
			return accounts
		}
	}
	return append(accounts, acct)
}

// endpointURL is the URL clients use for the listener at addr. An unspecified address
// (0.0.0.0, ::) is printed as 127.0.0.1: the URL is for scripts on this machine,
// "http://0.0.0.0:PORT/" is not an address every client connects to, and Go listens on
// both families for either, so IPv4 loopback always reaches it.
func endpointURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String() + "/"
	}
	ip := tcp.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port)) + "/"
}

// isLoopback reports whether the listener is reachable from this machine only.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// orDefault is s, or def when s is empty (a setting the cloud fills with its default).
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
