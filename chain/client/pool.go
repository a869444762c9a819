package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/taominer/taominer/chain/rpc"
)

// poolCodes names Substrate's author (transaction pool) error codes (spec §1.3).
var poolCodes = map[int]string{
	1001: "BadFormat",
	1002: "VerificationError",
	1010: "InvalidTransaction",
	1011: "UnknownTransactionValidity",
	1012: "TemporarilyBanned",
	1013: "AlreadyImported",
	1014: "PriorityTooLow",
	1015: "CycleDetected",
	1016: "ImmediatelyDropped",
}

// customCodes names subtensor's custom transaction validity codes
// (subtensor common/src/transaction_error.rs; spec §1.3).
var customCodes = map[int]string{
	0: "ColdkeyInSwapSchedule", 1: "StakeAmountTooLow", 2: "BalanceTooLow", 3: "SubnetNotExists",
	4: "HotkeyAccountDoesntExist", 5: "NotEnoughStakeToWithdraw", 6: "RateLimitExceeded",
	7: "InsufficientLiquidity", 8: "SlippageTooHigh", 9: "TransferDisallowed",
	10: "HotKeyNotRegisteredInNetwork", 11: "InvalidIpAddress", 12: "ServingRateLimitExceeded",
	13: "InvalidPort", 14: "ZeroMaxAmount", 15: "InvalidRevealRound", 16: "CommitNotFound",
	17: "CommitBlockNotInRevealRange", 18: "InputLengthsUnequal", 19: "UidNotFound",
	20: "EvmKeyAssociateRateLimitExceeded", 21: "ColdkeySwapDisputed", 22: "InvalidRealAccount",
	23: "FailedShieldedTxParsing", 24: "InvalidShieldedTxPubKeyHash", 25: "NonAssociatedColdKey",
	26: "DelegateTakeTooLow", 27: "DelegateTakeTooHigh", 255: "BadRequest",
}

// PoolError is a rejection by the node's transaction pool at submission.
type PoolError struct {
	Code    int    // Substrate author error code, e.g. 1010
	Name    string // e.g. "InvalidTransaction"; empty for unknown codes
	Message string
	Data    string // e.g. "Custom error: 12", "Transaction is outdated"
	// Custom is subtensor's custom validity code from "Custom error: N", or -1.
	Custom     int
	CustomName string // e.g. "ServingRateLimitExceeded"
	err        *rpc.Error
}

func (e *PoolError) Error() string {
	s := fmt.Sprintf("transaction rejected by the pool: %d", e.Code)
	if e.Name != "" {
		s += " " + e.Name
	}
	switch {
	case e.CustomName != "":
		s += fmt.Sprintf(": %s (custom error %d)", e.CustomName, e.Custom)
	case e.Data != "":
		s += ": " + e.Data
	case e.Message != "":
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the underlying JSON-RPC error.
func (e *PoolError) Unwrap() error { return e.err }

// poolError converts a JSON-RPC error from author_submit* into a *PoolError; other errors are
// returned unchanged.
func poolError(err error) error {
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code < 1000 || re.Code > 1099 {
		return err
	}
	pe := &PoolError{Code: re.Code, Name: poolCodes[re.Code], Message: re.Message, Data: re.DataString(), Custom: -1, err: re}
	if rest, ok := strings.CutPrefix(pe.Data, "Custom error: "); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
			pe.Custom = n
			pe.CustomName = customCodes[n]
			if pe.CustomName == "" {
				pe.CustomName = "Unknown"
			}
		}
	}
	return pe
}
