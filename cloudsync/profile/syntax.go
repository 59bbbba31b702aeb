package profile

import "strings"

// The platforms' name rules, checked byte by byte: each is a set of ASCII characters and a length,
// so a byte outside ASCII is refused and the length in bytes is the length in characters. They are
// plain functions rather than package-level regular expressions: compiled, those stayed on the heap
// of every gateway for the life of the process (#22). syntax_test.go checks each against the
// regular expression it replaces.

// isAlnum is [A-Za-z0-9].
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// alnumOr tells whether s is lo to hi letters, digits and characters of extra.
func alnumOr(s string, lo, hi int, extra string) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && strings.IndexByte(extra, s[i]) < 0 {
			return false
		}
	}
	return true
}

// validHost is a DNS host name with at least one dot: labels of letters, digits and '-' that begin and
// end with a letter or digit (^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$).
func validHost(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !alnumOr(l, 1, len(l), "-") || !isAlnum(l[0]) || !isAlnum(l[len(l)-1]) {
			return false
		}
	}
	return true
}

// validThingName is CreateThing's thingName pattern, ^[A-Za-z0-9:_-]{1,128}$.
func validThingName(s string) bool { return alnumOr(s, 1, 128, ":_-") }

// validAzureDeviceID is an IoT Hub device id, ^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$. deviceId: "A
// case-sensitive string (up to 128 characters long) of ASCII 7-bit alphanumeric characters plus certain
// special characters: - . % _ * ? ! ( ) , : = @ $ '. The special characters: + # are not supported."
// (Azure IoT Hub identity registry)
func validAzureDeviceID(s string) bool { return alnumOr(s, 1, 128, "-.%_*?!(),:=@$'") }

// validAliyunProductKey is ^[A-Za-z0-9]{1,32}$.
func validAliyunProductKey(s string) bool { return alnumOr(s, 1, 32, "") }

// validAliyunDeviceName is 4 to 32 letters, digits, hyphens, underscores, at signs, periods and
// colons: ^[A-Za-z0-9_\-@.:]{4,32}$.
func validAliyunDeviceName(s string) bool { return alnumOr(s, 4, 32, "_-@.:") }

// validAliyunClientID is ^[A-Za-z0-9_\-@.:]{1,64}$.
func validAliyunClientID(s string) bool { return alnumOr(s, 1, 64, "_-@.:") }

// validAliyunInstance is ^iot-[A-Za-z0-9-]{1,60}$.
func validAliyunInstance(s string) bool {
	rest, ok := strings.CutPrefix(s, "iot-")
	return ok && alnumOr(rest, 1, 60, "-")
}

// validAliyunRegion is ^[a-z]{2}-[a-z0-9-]+$.
func validAliyunRegion(s string) bool {
	if len(s) < 4 || s[2] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		lower := 'a' <= c && c <= 'z'
		if i < 2 && !lower || i >= 2 && !lower && !('0' <= c && c <= '9') && c != '-' {
			return false
		}
	}
	return true
}
