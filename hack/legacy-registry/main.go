// Command legacy-registry is go-containerregistry's in-memory registry with
// the OCI 1.1 referrers API left off, so tests can exercise the referrers
// tag-scheme fallback (`sha256-<hex>` index) that older registries force.
// It is a test component built by hack/build-tools.sh, never part of Sigwatch.
//
// Usage: legacy-registry 127.0.0.1:PORT
package main

import (
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: legacy-registry HOST:PORT")
	}
	l, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving on %s (referrers API off)", l.Addr())
	srv := &http.Server{Handler: registry.New(), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(l))
}
