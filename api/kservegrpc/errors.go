package kservegrpc

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/taominer/taominer/api"
)

// kindCode maps each api.Kind to the gRPC status code it is answered with
// (the spec's §6, Triton's mapping): the one place kinds meet codes.
var kindCode = [...]codes.Code{
	api.KindInternal:    codes.Internal,
	api.KindBadInput:    codes.InvalidArgument,
	api.KindNotFound:    codes.NotFound,
	api.KindBusy:        codes.Unavailable, // Triton: a full queue is UNAVAILABLE; retry later
	api.KindUnavailable: codes.Unavailable,
	api.KindExpired:     codes.DeadlineExceeded,
	api.KindCancelled:   codes.Canceled,
	api.KindTooLarge:    codes.ResourceExhausted,
}

// Code is the gRPC status code of an api.Kind.
func Code(k api.Kind) codes.Code {
	if int(k) < len(kindCode) {
		return kindCode[k]
	}
	return codes.Internal
}

// toStatus turns a front or catalog error into a status error, with its
// reason (the kind's name) for the error counter; a status error passes
// through, with no reason.
func toStatus(err error) (reason string, st error) {
	if _, ok := status.FromError(err); ok && !errors.As(err, new(*api.Error)) {
		return "", err
	}
	k := api.KindOf(err)
	return k.String(), status.Error(Code(k), err.Error())
}
