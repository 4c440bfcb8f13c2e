// hello.go - the Go net/http peer of bench/http/run: the same route, body
// and headers as examples/http_server.c ("Hello, World!\n" as text/plain
// on GET /, 404 elsewhere). A plain main package with no dependencies,
// built offline (GO111MODULE=off). GOMAXPROCS, set by the script, is the
// number of loops.
//
//	hello-go PORT
package main

import (
	"net/http"
	"os"
)

var body = []byte("Hello, World!\n")

func hello(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h["Server"] = []string{"go"}
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{"14"}
	w.Write(body)
}

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: hello-go PORT\n")
		os.Exit(2)
	}
	http.HandleFunc("/", hello)
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
