package imageproc

import "errors"

// ErrBase64 reports text that is not valid base64 in either alphabet.
var ErrBase64 = errors.New("invalid base64")

// ErrFormat reports data that is not a JPEG or PNG image, or is corrupt or
// truncated.
var ErrFormat = errors.New("invalid image")

// ErrTooLarge reports an image whose header declares more pixels than the
// decoder was allowed to decode.
var ErrTooLarge = errors.New("image too large")

// ErrSize reports a target or crop size, or an RGB value, that is not
// usable (a dimension < 1, or pixels that do not fill width×height×3).
var ErrSize = errors.New("bad image size")
