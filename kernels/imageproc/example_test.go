package imageproc_test

import (
	"encoding/base64"
	"fmt"
	"os"

	"github.com/taominer/taominer/kernels"
	"github.com/taominer/taominer/kernels/imageproc"
)

// A ViT-style image classifier's pre-processing (Hugging Face
// ViTImageProcessor: resize to 224×224 BILINEAR, rescale 1/255, normalise
// with mean = std = 0.5) on an image sent as base64.
func Example() {
	data, err := os.ReadFile("../testdata/images/jpeg_420_300x200.jpg")
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := imageproc.DecodeBase64Image(base64.StdEncoding.EncodeToString(data), imageproc.DefaultMaxPixels)
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err = imageproc.Resize(img, 224, 224, imageproc.Bilinear)
	if err != nil {
		fmt.Println(err)
		return
	}
	half := []float32{0.5, 0.5, 0.5}
	pixelValues, shape, err := kernels.Normalize(img.Pix, append([]int{1}, img.Shape()...),
		kernels.NormParams{Scale: 1.0 / 255, Mean: half, Std: half})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(shape, len(pixelValues))
	// Output: [1 3 224 224] 150528
}
