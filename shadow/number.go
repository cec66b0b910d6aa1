package shadow

import (
	"math/big"
	"strconv"
	"strings"
)

// numbersEqual compares two JSON number literals as exact decimals: 1 == 1.0
// == 1e0 == 10e-1, 0 == -0, and 12345678901234567890 != 12345678901234567891
// (float64 would call them equal). Literals that are not valid JSON numbers
// compare as strings.
func numbersEqual(a, b string) bool {
	if a == b {
		return true
	}
	ca, ok1 := canonicalNumber(a)
	cb, ok2 := canonicalNumber(b)
	if !ok1 || !ok2 {
		return false
	}
	return ca == cb
}

// canonicalNumber rewrites a JSON number literal as "<sign><digits>e<exp>"
// with no leading or trailing zeros in digits ("0" for zero, without sign),
// so two literals are equal numbers exactly when their canonical forms are
// equal strings.
func canonicalNumber(s string) (string, bool) {
	i := 0
	neg := false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[intStart:i]
	if intPart == "" || (len(intPart) > 1 && intPart[0] == '0') {
		return "", false
	}
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac = s[fs:i]
		if frac == "" {
			return "", false
		}
	}
	expStr := "0"
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		es := i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		ds := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if ds == i {
			return "", false
		}
		expStr = s[es:i]
	}
	if i != len(s) {
		return "", false
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return "0", true
	}
	trimmed := strings.TrimRight(digits, "0")
	// value = digits × 10^(exp − len(frac)); trailing zeros move into exp.
	shift := int64(len(digits)-len(trimmed)) - int64(len(frac))
	var b strings.Builder
	b.Grow(len(trimmed) + 24)
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(trimmed)
	b.WriteByte('e')
	if exp, err := strconv.ParseInt(strings.TrimPrefix(expStr, "+"), 10, 64); err == nil &&
		exp < 1<<62 && exp > -(1<<62) {
		b.WriteString(strconv.FormatInt(exp+shift, 10))
		return b.String(), true
	}
	// An exponent beyond int64: exact arithmetic is still cheap.
	e, ok := new(big.Int).SetString(strings.TrimPrefix(expStr, "+"), 10)
	if !ok {
		return "", false
	}
	e.Add(e, big.NewInt(shift))
	b.WriteString(e.String())
	return b.String(), true
}
