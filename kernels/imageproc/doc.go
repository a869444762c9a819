// Package imageproc turns an image sent by a validator into the pixels a
// vision model's pre-processing expects, in pure Go and matching Pillow, the
// library Hugging Face image processors and most subnet validators use:
//
//   - DecodeBase64 accepts the standard and URL-safe alphabets, with or
//     without padding, line breaks, and a "data:image/...;base64," prefix.
//   - Decode reads JPEG or PNG into 8-bit RGB (an RGB value, interleaved HWC)
//     as Pillow's Image.open(...).convert("RGB") does: grayscale is
//     replicated, palettes are looked up, alpha is dropped (not composited),
//     16-bit colour keeps its high byte, 16-bit grayscale is clipped to 255
//     (Pillow opens it as mode "I"), and the EXIF orientation is NOT
//     applied (Image.open does not apply it either; call ImageOps.exif_transpose
//     in Python, or nothing here, to match). The size is read from the header
//     first and images over a pixel limit are refused before decoding.
//   - Resize with Bilinear or Bicubic gives the same bytes as Pillow's
//     Image.resize on an RGB image: separable convolution, horizontal pass
//     then vertical, the filter's support widened by the scale when
//     downscaling (antialiasing), coefficients in 22-bit fixed point and
//     each pass rounded and clipped to 8 bits.
//   - ShortestEdgeSize, ResizeShortestEdge and CenterCrop follow the Hugging
//     Face image processors' "shortest_edge" resize and center_crop.
//
// JPEG pixels can differ from Pillow's by a few levels: Go's image/jpeg
// inverse DCT is not libjpeg-turbo's. Chroma upsampling and the YCbCr→RGB
// conversion are done here the way libjpeg-turbo does them ("fancy"
// triangle-filter upsampling, its rounding), which removes the larger
// differences Go's own nearest-neighbour chroma upsampling would cause. PNG
// decoding is exact. The tests in this package check all of this against
// reference data made with Debian's python3-pil (see ../testdata).
package imageproc
