package wechat

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckField checks one data field of a subscription or template message
// against the limits WeChat documents for its type, which is the key's
// prefix: thing1 is a thing, amount4 an amount. The error names the field
// and the rule ("data.thing1: 23 characters, thing allows 20"). Lengths
// are counted in characters (runes): how WeChat counts emoji is not
// documented. enum values are not checked (their lists live in the
// template), nor is content WeChat may judge (a phrase of five valid
// characters is sometimes refused).
func CheckField(key, value string) error {
	field := "data." + key
	typ, ok := fieldType(key)
	if !ok {
		return invalid(opMessages, field, "%q is not a field key (a type and a number, as thing1)", truncate(key, 40))
	}
	if !utf8.ValidString(value) {
		return invalid(opMessages, field, "not UTF-8")
	}
	if value == "" {
		return invalid(opMessages, field, "empty, %s needs a value", typ)
	}
	n := utf8.RuneCountInString(value)
	limit := func(max int, what string) error {
		if n > max {
			return invalid(opMessages, field, "%d characters, %s allows %d", n, typ, max)
		}
		for _, r := range value {
			if !allowed(typ, r) {
				return invalid(opMessages, field, "%q is not allowed, %s takes %s", r, typ, what)
			}
		}
		return nil
	}
	switch typ {
	case "thing":
		return limit(20, "Chinese characters, letters, digits and symbols")
	case "number":
		if err := limit(32, "digits"); err != nil {
			return err
		}
		if !isNumber(value) {
			return invalid(opMessages, field, "%q is not a number (digits, one decimal point)", truncate(value, 40))
		}
	case "letter":
		return limit(32, "letters")
	case "symbol":
		return limit(5, "symbols")
	case "character_string":
		return limit(32, "digits, letters and symbols")
	case "phone_number":
		return limit(17, "digits and symbols")
	case "car_number":
		if err := limit(8, "letters, digits and Chinese characters"); err != nil {
			return err
		}
	case "name":
		han := 0
		for _, r := range value {
			if unicode.Is(unicode.Han, r) {
				han++
			}
		}
		if han > 0 {
			if han != n {
				return invalid(opMessages, field, "mixes Chinese characters and others, name takes either")
			}
			if n > 10 {
				return invalid(opMessages, field, "%d characters, name allows 10 Chinese characters", n)
			}
			return nil
		}
		return limit(20, "letters")
	case "phrase":
		return limit(5, "Chinese characters only")
	case "amount":
		if err := limit(20, "a currency symbol and digits"); err != nil {
			return err
		}
		if !isAmount(value) {
			return invalid(opMessages, field, "%q is not an amount (a currency symbol, up to 10 digits, 2 decimals, 元 at the end)", truncate(value, 40))
		}
	case "time", "date":
		if err := limit(40, "a date and time"); err != nil {
			return err
		}
		for _, part := range strings.Split(value, "~") {
			if !isDateTime(strings.TrimSpace(part), typ == "time") {
				return invalid(opMessages, field, "%q is not a %s (%s)", truncate(value, 40), typ, map[string]string{
					"time": "a 24-hour time, a date before it optional: 15:01, 2019年10月1日 15:01",
					"date": "a date, a time after it optional: 2019年10月1日, 2019-10-01 15:01"}[typ])
			}
		}
	case "enum":
		return limit(20, "one of the template's values")
	default:
		return invalid(opMessages, field, "%q is not a field type WeChat documents", typ)
	}
	return nil
}

// fieldType splits thing1 into thing; ok is false for a key without a
// number at its end.
func fieldType(key string) (string, bool) {
	i := len(key)
	for i > 0 && '0' <= key[i-1] && key[i-1] <= '9' {
		i--
	}
	if i == 0 || i == len(key) || len(key) > 40 {
		return "", false
	}
	for _, r := range key[:i] {
		if !('a' <= r && r <= 'z' || r == '_') {
			return "", false
		}
	}
	return key[:i], true
}

func isSymbol(r rune) bool { return r < 0x80 && (unicode.IsPunct(r) || unicode.IsSymbol(r)) }

// allowed tells the characters each type takes. A space is a symbol for
// the free-text types.
func allowed(typ string, r rune) bool {
	letter := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	digit := '0' <= r && r <= '9'
	switch typ {
	case "thing", "enum":
		return unicode.IsPrint(r) || r == ' '
	case "number":
		return digit || r == '.' || r == '-'
	case "letter", "name":
		return letter || r == ' '
	case "symbol":
		return isSymbol(r)
	case "character_string":
		return letter || digit || isSymbol(r)
	case "phone_number":
		return digit || r == '+' || r == '-' || r == ' ' || r == '(' || r == ')'
	case "car_number":
		return letter || digit || unicode.Is(unicode.Han, r) || r == '·'
	case "phrase":
		return unicode.Is(unicode.Han, r)
	}
	return unicode.IsPrint(r)
}

func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	return digits(whole) > 0 && (!dot || digits(frac) > 0) && digits(whole) == len(whole) && digits(frac) == len(frac)
}

// isAmount: ¥12.30, 12.30元, $5, 100.
func isAmount(s string) bool {
	for _, sym := range []string{"¥", "￥", "$", "€", "£", "HK$", "US$"} {
		if rest, ok := strings.CutPrefix(s, sym); ok {
			s = rest
			break
		}
	}
	s = strings.TrimSuffix(s, "元")
	whole, frac, dot := strings.Cut(s, ".")
	return digits(whole) == len(whole) && 1 <= len(whole) && len(whole) <= 10 &&
		(!dot || digits(frac) == len(frac) && 1 <= len(frac) && len(frac) <= 2)
}

func digits(s string) int {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}

// isDateTime reads a date (2019年10月1日, 2019-10-01, 2019/10/01, 10月1日)
// and a 24-hour time (15:01, 15:01:05). A time needs the time and may have
// the date; a date needs the date and may have the time.
func isDateTime(s string, needTime bool) bool {
	date, clock := s, ""
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		date, clock = strings.TrimSpace(s[:i]), s[i+1:]
	} else if strings.Contains(s, ":") {
		date, clock = "", s
	}
	if date == "" && clock == "" {
		return false
	}
	if clock != "" && !isClock(clock) {
		return false
	}
	if date != "" && !isDate(date) {
		return false
	}
	if needTime {
		return clock != ""
	}
	return date != ""
}

func isClock(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	for i, p := range parts {
		if len(p) != 2 || digits(p) != 2 {
			return false
		}
		v := int(p[0]-'0')*10 + int(p[1]-'0')
		if i == 0 && v > 23 || i > 0 && v > 59 {
			return false
		}
	}
	return true
}

func isDate(s string) bool {
	var y, m, d int
	var rest string
	switch {
	case strings.Contains(s, "月"):
		var n int
		if strings.Contains(s, "年") {
			n, _ = fmt.Sscanf(s, "%d年%d月%d日%s", &y, &m, &d, &rest)
		} else {
			y = 2000 // a date without its year
			n, _ = fmt.Sscanf(s, "%d月%d日%s", &m, &d, &rest)
			n++
		}
		if n < 3 {
			return false
		}
	case strings.Count(s, "-") == 2:
		if n, _ := fmt.Sscanf(s, "%d-%d-%d%s", &y, &m, &d, &rest); n < 3 {
			return false
		}
	case strings.Count(s, "/") == 2:
		if n, _ := fmt.Sscanf(s, "%d/%d/%d%s", &y, &m, &d, &rest); n < 3 {
			return false
		}
	default:
		return false
	}
	return rest == "" && 1 <= y && y <= 9999 && 1 <= m && m <= 12 && 1 <= d && d <= 31
}
