package ec2

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
)

// API is the narrow set of EC2 calls the commands make, with the SDK's exact signatures, so
// *ec2.Client and a test fake are interchangeable (Karpenter's pkg/aws/sdk.go pattern).
type API interface {
	RunInstances(context.Context, *awsec2.RunInstancesInput, ...func(*awsec2.Options)) (*awsec2.RunInstancesOutput, error)
	TerminateInstances(context.Context, *awsec2.TerminateInstancesInput, ...func(*awsec2.Options)) (*awsec2.TerminateInstancesOutput, error)
	DescribeInstances(context.Context, *awsec2.DescribeInstancesInput, ...func(*awsec2.Options)) (*awsec2.DescribeInstancesOutput, error)
	CreateKeyPair(context.Context, *awsec2.CreateKeyPairInput, ...func(*awsec2.Options)) (*awsec2.CreateKeyPairOutput, error)
	DeleteKeyPair(context.Context, *awsec2.DeleteKeyPairInput, ...func(*awsec2.Options)) (*awsec2.DeleteKeyPairOutput, error)
	DescribeKeyPairs(context.Context, *awsec2.DescribeKeyPairsInput, ...func(*awsec2.Options)) (*awsec2.DescribeKeyPairsOutput, error)
	AssociateAddress(context.Context, *awsec2.AssociateAddressInput, ...func(*awsec2.Options)) (*awsec2.AssociateAddressOutput, error)
	AttachVolume(context.Context, *awsec2.AttachVolumeInput, ...func(*awsec2.Options)) (*awsec2.AttachVolumeOutput, error)
	CreateTags(context.Context, *awsec2.CreateTagsInput, ...func(*awsec2.Options)) (*awsec2.CreateTagsOutput, error)
	RequestSpotInstances(context.Context, *awsec2.RequestSpotInstancesInput, ...func(*awsec2.Options)) (*awsec2.RequestSpotInstancesOutput, error)
	CancelSpotInstanceRequests(context.Context, *awsec2.CancelSpotInstanceRequestsInput, ...func(*awsec2.Options)) (*awsec2.CancelSpotInstanceRequestsOutput, error)
	DescribeSpotInstanceRequests(context.Context, *awsec2.DescribeSpotInstanceRequestsInput, ...func(*awsec2.Options)) (*awsec2.DescribeSpotInstanceRequestsOutput, error)
}

var _ API = (*awsec2.Client)(nil)

// FromInstance is the key-file name that means "use the instance's IAM role credentials"
// (HTCondor's USE_INSTANCE_ROLE_MAGIC_STRING; on the wire FROM\ INSTANCE).
const FromInstance = "FROM INSTANCE"

// DefaultRegion signs requests to a service URL whose host names no region, such as
// https://ec2.amazonaws.com/ or http://127.0.0.1:8080/. us-east-1 is where AWS's global EC2
// endpoint lives and what moto and ec2grid's cloud route unscoped requests to.
const DefaultRegion = "us-east-1"

// Connection timeouts, HTCondor's curl settings (jira 3300): 15 s to connect, and
// AttemptTimeout for a whole attempt.
const (
	connectTimeout = 15 * time.Second
	tlsTimeout     = 15 * time.Second
)

// regionLabel matches an AWS-shaped region name: us-east-1, eu-central-2, us-gov-west-1,
// cn-north-1, ap-southeast-4.
var regionLabel = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// Endpoint is one service URL after validation.
type Endpoint struct {
	URL    string // as given in the command, used as the SDK's BaseEndpoint
	Region string // the SigV4 signing region
}

// ParseEndpoint validates a service URL and picks its signing region: the host's second
// label when the host is ec2.<region>.<anything> (ec2.us-east-1.amazonaws.com, or a local
// endpoint named like it), otherwise defaultRegion. HTCondor took the second label of any
// host, which breaks https://ec2.amazonaws.com/ and IP addresses (its bug §10.11).
func ParseEndpoint(serviceURL, defaultRegion string) (Endpoint, error) {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return Endpoint{}, fmt.Errorf("parse service URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Endpoint{}, fmt.Errorf("service URL %q is not http or https", serviceURL)
	}
	if u.Hostname() == "" {
		return Endpoint{}, fmt.Errorf("service URL %q has no host", serviceURL)
	}
	ep := Endpoint{URL: serviceURL, Region: defaultRegion}
	labels := strings.Split(strings.ToLower(u.Hostname()), ".")
	if len(labels) >= 3 && labels[0] == "ec2" && regionLabel.MatchString(labels[1]) {
		ep.Region = labels[1]
	}
	return ep, nil
}

// maxKeyFile bounds a key file read: an access key id is 20 characters and a secret key 40,
// so a larger file is the wrong file (or /dev/zero), not a key.
const maxKeyFile = 64 << 10

// readKeyFile returns a key file's contents with trailing whitespace trimmed, as HTCondor
// does (an editor's final newline is not part of the key). A directory, FIFO or device is
// refused before it is opened, and a file over maxKeyFile is refused. Errors name the
// file, never what it holds.
func readKeyFile(path string) (string, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return "", fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	if st.Size() > maxKeyFile {
		return "", fmt.Errorf("read key file: %s is %d bytes, too large for a key (at most %d)", path, st.Size(), maxKeyFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return "", fmt.Errorf("read key file %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return "", fmt.Errorf("read key file: %s is larger than %d bytes, too large for a key", path, maxKeyFile)
	}
	return strings.TrimRight(string(b), " \t\r\n"), nil
}

// clientKey identifies one SDK client: one per service URL and credentials. The secret is
// part of the key (the client holds it anyway) so a changed key file gets a new client.
type clientKey struct {
	url, accessKey, secretKey string
	instance                  bool
}

// client is one SDK client with the endpoint it talks to.
type client struct {
	api API
	ep  *endpoint
}

// endpoint is what all clients of one service URL share: its rate limiter.
type endpoint struct {
	Endpoint
	limiter *limiter
}

// clients caches SDK clients and endpoints. Its guarantee: one SDK client per
// (URL, credentials) and one limiter per URL for the process's life, so connections are
// reused and every caller of a URL is paced by the same bucket.
type clients struct {
	opts *Options

	mu        sync.Mutex
	byKey     map[clientKey]*client
	endpoints map[string]*endpoint
	http      *http.Client
	instance  aws.CredentialsProvider // FROM INSTANCE credentials, made on first use
}

func newClients(opts *Options) (*clients, error) {
	hc := opts.HTTPClient
	if hc == nil {
		var err error
		if hc, err = newHTTPClient(opts.Workers); err != nil {
			return nil, err
		}
	}
	return &clients{opts: opts, byKey: map[clientKey]*client{}, endpoints: map[string]*endpoint{}, http: hc}, nil
}

// get returns the client for a command's URL and key files. Errors carry the HTCondor
// error code to report.
func (cs *clients) get(serviceURL, accessKeyFile, secretKeyFile string) (*client, *failure) {
	ep, err := ParseEndpoint(serviceURL, cs.opts.DefaultRegion)
	if err != nil {
		return nil, &failure{codeInvalidServiceURL, "Service URL not of a known protocol (http[s]): " + err.Error()}
	}
	key := clientKey{url: serviceURL}
	if accessKeyFile == FromInstance || secretKeyFile == FromInstance {
		key.instance = true
	} else {
		if key.accessKey, err = readKeyFile(accessKeyFile); err != nil {
			return nil, &failure{codeFileIO, "Failed to read access key file: " + err.Error()}
		}
		if key.secretKey, err = readKeyFile(secretKeyFile); err != nil {
			return nil, &failure{codeFileIO, "Failed to read secret key file: " + err.Error()}
		}
	}

	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.byKey[key]; c != nil {
		return c, nil
	}
	e := cs.endpoints[serviceURL]
	if e == nil {
		e = &endpoint{Endpoint: ep, limiter: newLimiter(cs.opts.floorRate(), cs.opts.MaxRate, time.Now)}
		cs.endpoints[serviceURL] = e
	}
	var creds aws.CredentialsProvider
	if key.instance {
		if cs.instance == nil {
			cs.instance = aws.NewCredentialsCache(ec2rolecreds.New(func(o *ec2rolecreds.Options) {
				// IMDS has its own client: it must never go through a proxy.
				o.Client = imds.New(imds.Options{Endpoint: cs.opts.InstanceMetadataEndpoint})
			}))
		}
		creds = cs.instance
	} else {
		creds = credentials.NewStaticCredentialsProvider(key.accessKey, key.secretKey, "")
	}
	var api API
	if cs.opts.NewAPI != nil {
		api = cs.opts.NewAPI(ep, creds)
	} else {
		api = awsec2.New(awsec2.Options{
			Region:       ep.Region,
			BaseEndpoint: aws.String(ep.URL),
			Credentials:  creds,
			HTTPClient:   ownBodyClient{cs.http},
			// One attempt per SDK call: call.go owns retries (see errors.go for why the
			// SDK's standard retryer, with its retry quota, cannot be used).
			Retryer: aws.NopRetryer{},
		})
	}
	c := &client{api: api, ep: e}
	cs.byKey[key] = c
	return c, nil
}

// ownBodyClient gives net/http its own copy of each request body. smithy-go (v1.28.8)
// closes the request body as soon as Do returns, and with Go 1.26's transport that now and
// then closes the connection while the answer is still being read: a call the cloud carried
// out fails with "deserialization failed ... use of closed network connection", which for
// EC2_VM_START would become a needless NEED_CHECK_VM_START. Bodies are small form posts,
// so the copy is cheap. (Seen against any server, also a canned-answer httptest server.)
type ownBodyClient struct{ c *http.Client }

func (o ownBodyClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return o.c.Do(r)
}

// newHTTPClient is the transport all SDK clients share: enough idle connections per host
// for every worker to keep its own (the default 2 would make most calls open a new
// connection), HTCondor's connect timeout, its proxy variable and CA settings.
func newHTTPClient(workers int) (*http.Client, error) {
	proxy := http.ProxyFromEnvironment
	if p := os.Getenv("AMAZON_HTTP_PROXY"); p != "" {
		u, err := url.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("AMAZON_HTTP_PROXY: %w", err)
		}
		proxy = http.ProxyURL(u)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	pool, err := caPool()
	if err != nil {
		return nil, err
	}
	tlsConfig.RootCAs = pool
	t := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   tlsTimeout,
		MaxIdleConns:          0, // no global cap: MaxIdleConnsPerHost bounds each endpoint
		MaxIdleConnsPerHost:   max(workers, 2),
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: t}, nil
}

// caPool returns nil (the system roots) unless HTCondor's CA variables name a file or a
// directory: X509_CERT_FILE / X509_CERT_DIR first, then GAHP_SSL_CAFILE / GAHP_SSL_CADIR,
// the order HTCondor's ec2_gahp uses.
func caPool() (*x509.CertPool, error) {
	file := firstEnv("X509_CERT_FILE", "GAHP_SSL_CAFILE")
	dir := firstEnv("X509_CERT_DIR", "GAHP_SSL_CADIR")
	if file == "" && dir == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	var files []string
	if file != "" {
		files = append(files, file)
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("CA directory: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool.AppendCertsFromPEM(b) // files that hold no PEM certificate are skipped
	}
	return pool, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
