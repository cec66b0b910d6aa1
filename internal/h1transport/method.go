package h1transport

// validMethod reports whether method is empty (GET) or an HTTP token
// (RFC 9110 §9.1). Request.Write copies the method onto the wire as it is:
// anything else, a CRLF above all, would let the caller write a request of
// its own to the upstream. http.Transport refuses such a method, and that
// is where Eligible sends it.
func validMethod(method string) bool {
	for i := 0; i < len(method); i++ {
		if !isTokenByte(method[i]) {
			return false
		}
	}
	return true
}

// isTokenByte reports whether b is a tchar (RFC 9110 §5.6.2).
func isTokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
