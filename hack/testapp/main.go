// testapp is the process inside the cluster profile's runnable test images:
// it sleeps, answers HTTP 200 on :8080 (/healthz and /), and exits 0 on
// SIGTERM or SIGINT so a pod stops within its grace period. Static, no libc,
// so it runs from a one-layer image without a base.
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h, _ := os.Hostname()
		fmt.Fprintf(w, "ok %s\n", h)
	})
	go func() {
		if err := http.ListenAndServe(":8080", nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}()
	fmt.Println("testapp listening on :8080")
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	s := <-c
	fmt.Println("testapp got", s, "- exiting")
}
