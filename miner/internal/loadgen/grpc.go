package loadgen

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/kservegrpc"
)

// grpcRequest encodes req as a ModelInferRequest once, as tritonclient
// sends it (raw_input_contents).
func grpcRequest(model, version string, req *api.InferRequest) ([]byte, error) {
	b, err := proto.Marshal(kservegrpc.EncodeInferRequest(model, version, req))
	if err != nil {
		return nil, fmt.Errorf("encode the gRPC request: %w", err)
	}
	return b, nil
}

// inferMethod is ModelInfer's method path.
const inferMethod = "/inference.GRPCInferenceService/ModelInfer"

// grpcLoad sends one encoded ModelInferRequest, each worker on its own
// connection (as httpLoad), the answer read in full and not decoded (as
// httpLoad discards its bodies).
type grpcLoad struct {
	addr string
	msg  []byte
}

func (l *grpcLoad) work(ctx context.Context, rec *recorder) {
	cc, err := grpc.NewClient(l.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(1<<30)))
	if err != nil {
		rec.failure("transport", err.Error())
		return
	}
	defer cc.Close()
	var answer rawMessage
	for ctx.Err() == nil {
		t0 := time.Now()
		err := cc.Invoke(ctx, inferMethod, rawMessage(l.msg), &answer)
		if err == nil {
			rec.success(time.Since(t0))
			continue
		}
		if ctx.Err() != nil {
			return // cut off at the end of the measurement: not a failure
		}
		st := status.Convert(err)
		rec.failure(st.Code().String(), st.Message())
		select {
		case <-ctx.Done():
		case <-time.After(transportBackoff):
		}
	}
}

func (l *grpcLoad) close() {}

// rawMessage is a message already encoded, or an answer's bytes.
type rawMessage []byte

// rawCodec sends rawMessage bytes as they are and keeps answers
// undecoded. Its name is "proto" so that the server decodes the calls
// with its protobuf codec.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(rawMessage)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot send %T", v)
	}
	return m, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("rawCodec: cannot decode into %T", v)
	}
	*m = append((*m)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
