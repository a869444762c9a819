package kernels

import (
	"context"
	"errors"
	"testing"
)

type fakeGPUs struct {
	gpus []Device
	err  error
}

func (f fakeGPUs) GPUs(context.Context) ([]Device, error) { return f.gpus, f.err }

func TestDiscover(t *testing.T) {
	gpu := Device{Kind: KindGPU, Index: 0, Name: "Fake GPU", UUID: "GPU-1"}
	tests := []struct {
		name    string
		src     GPUSource
		want    []string
		wantErr bool
	}{
		{"no source", nil, []string{"cpu"}, false},
		{"no GPUs", fakeGPUs{}, []string{"cpu"}, false},
		{"one GPU", fakeGPUs{gpus: []Device{gpu}}, []string{"cpu", "cuda:0"}, false},
		{"source fails", fakeGPUs{err: errors.New("NVML not found")}, []string{"cpu"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devs, err := Discover(context.Background(), tt.src)
			if (err != nil) != tt.wantErr {
				t.Errorf("Discover error %v, want error %v", err, tt.wantErr)
			}
			var got []string
			for _, d := range devs {
				got = append(got, d.String())
			}
			if len(got) != len(tt.want) || got[0] != "cpu" || (len(got) > 1 && got[1] != tt.want[1]) {
				t.Errorf("Discover = %v, want %v", got, tt.want)
			}
			if devs[0].Threads < 1 || devs[0].Name == "" {
				t.Errorf("CPU device = %+v, want a name and threads", devs[0])
			}
		})
	}
}
