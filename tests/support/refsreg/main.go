// refsreg serves go-containerregistry's in-memory registry on 127.0.0.1, with the OCI 1.1
// referrers API switched on (-referrers) or off: the test peer for a registry that has the
// API (neither Debian's docker-registry nor distribution v3 has it, and `crane registry serve`
// does not switch it on). It prints the address it listens on, then serves until killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (loopback only)")
	referrers := flag.Bool("referrers", false, "serve the OCI 1.1 referrers API")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("-addr %s: a loopback address is required", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	os.Stdout.Sync()
	quiet := log.New(os.Stderr, "", 0)
	handler := registry.New(registry.WithReferrersSupport(*referrers), registry.Logger(quiet))
	log.Fatal(http.Serve(ln, handler))
}
