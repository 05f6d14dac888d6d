package wechat

// SetSceneCodeLen makes new scene codes n digits long, so a test can force
// two payloads onto one code; the returned func restores the length.
func SetSceneCodeLen(n int) (restore func()) {
	old := sceneCodeLen
	sceneCodeLen = n
	return func() { sceneCodeLen = old }
}
