package simulate

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
)

// printSimEpoch prints one epoch's table.
func printSimEpoch(w io.Writer, e Epoch, opt simOptions) {
	fmt.Fprintf(w, "epoch %d/%d (%s α emitted)\n", e.Epoch, opt.epochs, formatAlpha(opt.emission))
	width := len("model")
	for _, m := range e.Miners {
		width = max(width, len(m.Model))
	}
	fmt.Fprintf(w, "  %5s  %3s  %-7s  %-*s  %6s  %6s  %9s  %9s  %12s\n", "miner", "uid", "kind", width, "model",
		"score", "weight", "consensus", "incentive", "emission α")
	for _, m := range e.Miners {
		kind := m.Kind
		if m.Colluded {
			kind += "*"
		}
		fmt.Fprintf(w, "  %5d  %3d  %-7s  %-*s  %6.4f  %6.4f  %9.4f  %9.4f  %12s\n", m.Miner, m.UID, kind, width,
			m.Model, m.Score, m.Weight, m.Consensus, m.Incentive, formatAlpha(m.EmissionRao))
	}
	fmt.Fprintf(w, "  %9s  %3s  %6s  %6s  %9s  %12s\n", "validator", "uid", "stake", "vtrust", "dividends", "emission α")
	for _, v := range e.Validators {
		mark := ""
		if v.Colluding {
			mark = "  colluding"
		}
		fmt.Fprintf(w, "  %9d  %3d  %5.1f%%  %6.4f  %9.4f  %12s%s\n", v.Validator, v.UID, 100*v.Stake,
			v.ValidatorTrust, v.Dividends, formatAlpha(v.EmissionRao), mark)
	}
	if opt.collusion {
		fmt.Fprintln(w, "  * weighed up by the colluding validators")
	}
}

// formatAlpha prints rao as alpha with 9 decimals.
func formatAlpha(rao uint64) string {
	return fmt.Sprintf("%d.%09d", rao/1e9, rao%1e9)
}

func writeSimCSV(path string, rep Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"epoch", "miner", "uid", "hotkey", "kind", "colluded", "score", "weight", "consensus",
		"incentive", "emission_rao", "model"})
	ff := func(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }
	for _, e := range rep.Epochs {
		for _, m := range e.Miners {
			_ = cw.Write([]string{strconv.Itoa(e.Epoch), strconv.Itoa(m.Miner), strconv.Itoa(m.UID), m.Hotkey, m.Kind,
				strconv.FormatBool(m.Colluded), ff(m.Score), ff(m.Weight), ff(m.Consensus), ff(m.Incentive),
				strconv.FormatUint(m.EmissionRao, 10), m.Model})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		_ = f.Close()
		return fmt.Errorf("--csv: %w", err)
	}
	return f.Close()
}

func writeSimJSON(path string, rep Report, stdout io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}
