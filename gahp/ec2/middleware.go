package ec2

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"

	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// idempotencyAutoFill is the SDK middleware that invents a ClientToken for RunInstances
// when none is set (service/ec2 api_op_RunInstances.go).
const idempotencyAutoFill = "OperationIdempotencyTokenAutoFill"

// noAutoClientToken removes the SDK's invented ClientToken: the token sent is the one in
// the command, and a NULL token sends none. An invented token would make a retry by the
// gridmanager (same command, new token) start a second instance anyway, and would make a
// cloud that honours tokens see tokens the grid manager never recorded.
func noAutoClientToken(o *awsec2.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		if _, ok := s.Initialize.Get(idempotencyAutoFill); !ok {
			return nil
		}
		_, err := s.Initialize.Remove(idempotencyAutoFill)
		return err
	})
}

// withQueryParams sets free-form Query API parameters on the serialized request,
// overriding what the SDK serialized: HTCondor's ec2_parameter_names pass-through, sent
// "verbatim (overrides anything above)".
func withQueryParams(params [][2]string) func(*awsec2.Options) {
	return func(o *awsec2.Options) {
		if len(params) == 0 {
			return
		}
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Serialize.Add(queryParams(params), middleware.After)
		})
	}
}

type queryParams [][2]string

func (queryParams) ID() string { return "EC2GridQueryParams" }

func (p queryParams) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("query params: unexpected request type %T", in.Request)
	}
	var body []byte
	if s := req.GetStream(); s != nil {
		var err error
		if body, err = io.ReadAll(s); err != nil {
			return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("query params: read body: %w", err)
		}
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("query params: parse body: %w", err)
	}
	for _, kv := range p {
		values.Set(kv[0], kv[1])
	}
	if req, err = req.SetStream(bytes.NewReader([]byte(values.Encode()))); err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("query params: set body: %w", err)
	}
	in.Request = req
	return next.HandleSerialize(ctx, in)
}

// rawResponse captures a successful answer's Server header and body before the SDK
// decodes it: EC2_VM_SERVER_TYPE classifies servers by them, as HTCondor does.
type rawResponse struct {
	server string
	body   []byte
}

// maxCapturedBody bounds what capture keeps for classification: the markers looked for are
// in the first bytes. The SDK still decodes the whole body.
const maxCapturedBody = 1 << 20

func (r *rawResponse) capture(o *awsec2.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		// After: closest to the transport, so it sees the body before the deserializer.
		return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("EC2GridCaptureResponse",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if err != nil {
					return out, md, err
				}
				resp, ok := out.RawResponse.(*smithyhttp.Response)
				if !ok || resp.Body == nil {
					return out, md, err
				}
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr != nil {
					return out, md, fmt.Errorf("capture response: %w", rerr)
				}
				r.server = resp.Header.Get("Server")
				r.body = body[:min(len(body), maxCapturedBody)]
				resp.Body = io.NopCloser(bytes.NewReader(body))
				return out, md, nil
			}), middleware.After)
	})
}
