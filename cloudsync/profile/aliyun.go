package profile

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"time"
)

// Limits of Alibaba Cloud IoT Platform's MQTT 3.1.1 endpoint
// (https://www.alibabacloud.com/help/en/iot/user-guide/mqtt-protocol,
// https://www.alibabacloud.com/help/en/iot/user-guide/establish-mqtt-connections-over-tcp).
var aliyunLimits = Limits{
	// 256 KB per message is the platform's documented upstream limit as we understand it (Limits page,
	// help.aliyun.com/document_detail/30527.htm); not confirmed from the page's text here.
	MaxPayload:     256 << 10,
	MaxClientIDLen: 64, // "The client ID cannot exceed 64 characters"
	KeepAliveMin:   30 * time.Second,
	KeepAliveMax:   1200 * time.Second, // "Valid values of the keep-alive time: 30 to 1,200 seconds"
	MaxQoS:         1,                  // "Supports QoS 0 and 1. Does not support QoS 2."
	Retain:         false,              // "Does not support will messages or retained messages."
	Will:           false,
}

func buildAliyun(c *checker, in Input) Params {
	a := in.Aliyun
	if !validAliyunProductKey(a.ProductKey) {
		if a.ProductKey == "" {
			c.add("cloud.aliyun.product_key", "missing; copy the ProductKey from the device's certificate in the IoT Platform console")
		} else {
			c.add("cloud.aliyun.product_key", "%q is not a ProductKey (letters and digits); copy it from the device's certificate", a.ProductKey)
		}
	}
	if !validAliyunDeviceName(a.DeviceName) {
		if a.DeviceName == "" {
			c.add("cloud.aliyun.device_name", "missing; copy the DeviceName from the device's certificate in the IoT Platform console")
		} else {
			c.add("cloud.aliyun.device_name", "%q is not a DeviceName (4-32 letters, digits and _ - @ . :); copy it from the device's certificate", a.DeviceName)
		}
	}
	if a.DeviceSecret == "" {
		c.add("cloud.aliyun.device_secret", "missing; copy the DeviceSecret from the device's certificate in the IoT Platform console")
	} else if !printable(a.DeviceSecret) || strings.TrimSpace(a.DeviceSecret) != a.DeviceSecret {
		c.add("cloud.aliyun.device_secret", "contains spaces or control characters; copy the DeviceSecret exactly")
	}
	secure, tls := "2", true
	switch strings.ToLower(a.SecureMode) {
	case "", "tls":
	case "tcp":
		secure, tls = "3", false
	default:
		c.add("cloud.aliyun.secure_mode", "%q is not valid; use tls (securemode=2) or tcp (securemode=3, refused for devices created since August 2022)", a.SecureMode)
	}
	method, newHash := "hmacsha256", sha256.New
	switch strings.ToLower(a.SignMethod) {
	case "", "hmacsha256":
	case "hmacsha1":
		method, newHash = "hmacsha1", sha1.New
	default:
		c.add("cloud.aliyun.sign_method", "%q is not valid; use hmacsha256 (default) or hmacsha1", a.SignMethod)
	}
	cid := a.ClientID
	if cid == "" {
		cid = a.ProductKey + "." + a.DeviceName
	} else if !validAliyunClientID(cid) {
		c.add("cloud.aliyun.client_id", "%q is not valid: 1-64 letters, digits and _ - @ . : (the MAC address or serial number is a good choice)", cid)
	}
	if in.ClientID != "" {
		c.add("cloud.client_id", "aliyun-iot builds the MQTT client id from cloud.aliyun.client_id; move the value there or remove it")
	}
	brokers := append([]string(nil), in.Brokers...)
	scheme := "ssl://"
	if !tls {
		scheme = "tcp://"
	}
	switch {
	case len(brokers) > 0 && (a.Region != "" || a.InstanceID != ""):
		c.add("cloud.aliyun.instance_id", "set together with cloud.brokers; keep one: the instance id or region (the broker is derived from it) or the brokers")
	case len(brokers) > 0:
		checkBrokers(c, brokers, AliyunIoT, tls, true)
		if !tls {
			for i, b := range brokers {
				if s, _, _ := strings.Cut(b, "://"); brokerSchemes[s] {
					c.add("cloud.brokers["+strconv.Itoa(i)+"]", "is a TLS URL but cloud.aliyun.secure_mode is tcp; use tcp://, or secure_mode tls")
				}
			}
		}
	case a.Region != "" && a.InstanceID != "":
		c.add("cloud.aliyun.region", "set together with cloud.aliyun.instance_id; keep instance_id (instances with an id) or region (legacy public instance)")
	case a.InstanceID != "":
		if !validAliyunInstance(a.InstanceID) {
			c.add("cloud.aliyun.instance_id", "%q is not an instance id (iot-...); copy it from the console's instance overview", a.InstanceID)
		}
		brokers = []string{scheme + a.InstanceID + ".mqtt.iothub.aliyuncs.com:1883"}
	case a.Region != "":
		if !validAliyunRegion(a.Region) {
			c.add("cloud.aliyun.region", "%q is not a region id; e.g. cn-shanghai, ap-southeast-1, eu-central-1", a.Region)
		}
		brokers = []string{scheme + a.ProductKey + ".iot-as-mqtt." + a.Region + ".aliyuncs.com:1883"}
	default:
		c.add("cloud.aliyun.instance_id", "missing; set instance_id (shown in the console's Development Configurations, e.g. iot-06z00ab12cd34ef) or, for a legacy public instance, region (e.g. cn-shanghai)")
	}
	// No timestamp: Alibaba documents it as optional ("timestamp: optional"), the platform does not
	// check it against its clock (its own C Link SDK signs every connection with the fixed
	// 2524608000000, 2050-01-01), and it is part of the MQTT client id, which paho keeps for the life
	// of the link: a timestamp taken at start would carry a boot clock that was wrong (no RTC, NTP not
	// yet synchronised) into every later connection (#20). Without it the sign-in does not depend on
	// the clock at all, and the client id is the same across reconnects and restarts.
	clientID, password := aliyunSignIn(cid, a.ProductKey, a.DeviceName, a.DeviceSecret, "", secure, method, newHash)
	base := "/" + a.ProductKey + "/" + a.DeviceName + "/user/"
	return Params{
		Brokers:     brokers,
		ClientID:    clientID,
		Credentials: staticCredentials(a.DeviceName+"&"+a.ProductKey, password),
		RequireTLS:  tls,
		Topics: Topics{
			Telemetry:      base + "telemetry",
			Events:         base + "events",
			Status:         base + "status",
			StatusDelivery: StatusPlain,
			CommandFilter:  base + "cmd/+",
			scheme:         schemeAliyun,
			cmdPrefix:      base + "cmd/",
			replyPrefix:    base + "reply",
		},
		Limits: aliyunLimits,
	}
}

// aliyunSignIn returns the MQTT client id and password: the signed content is the parameters sorted by
// name (clientId, deviceName, productKey, timestamp), each name followed by its value, no separators;
// timestamp is left out of both when ts is empty.
func aliyunSignIn(cid, pk, dn, secret, ts, secureMode, method string, newHash func() hash.Hash) (clientID, password string) {
	content := "clientId" + cid + "deviceName" + dn + "productKey" + pk
	ext := "securemode=" + secureMode + ",signmethod=" + method
	if ts != "" {
		content += "timestamp" + ts
		ext += ",timestamp=" + ts
	}
	m := hmac.New(newHash, []byte(secret))
	m.Write([]byte(content))
	return cid + "|" + ext + "|", hex.EncodeToString(m.Sum(nil))
}
