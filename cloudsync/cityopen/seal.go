package cityopen

import "fmt"

// CityKey is a city private key that opens sealed batches.
type CityKey struct {
	KID string
}

func (op *Opener) unseal(msg []byte) ([]byte, string, error) {
	return nil, "", fmt.Errorf("%w: sealed batches are not supported yet", ErrDecrypt)
}
