package wechat_test

import (
	"context"
	"fmt"

	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// A shop prints a Mini Program code on its door. Its location is longer
// than the 32 characters a code's scene holds, so it is stored under a short
// code; when a customer scans the door, the Mini Program opens the store
// page with that scene and the host resolves it back.
func ExampleClient_ShareCode() {
	plat, err := wechattest.NewPlatform(wechattest.Options{})
	if err != nil {
		panic(err)
	}
	defer plat.Close()
	plat.AddPage("pages/store/door")
	client, err := wechat.New(plat.Config(memory.New()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	door := wechat.ScenePayload{Kind: "place", Data: `{"store":"st_0042","spot":"door","lat":31.2304,"lng":121.4737}`}
	img, scene, err := client.ShareCode(ctx, door, wechat.CodeParams{Page: "pages/store/door", Width: 1280})
	if err != nil {
		panic(err)
	}
	// Printing the door again (a second poster) gives the same code.
	again, err := client.Scene(ctx, door)
	if err != nil {
		panic(err)
	}
	fmt.Println("scene:", len(scene), "characters, the same again:", again == scene)

	// The customer scans it: the page's onLoad gets query.scene and asks
	// the host's API what it stands for.
	scanned, page, _ := plat.ReadCode(img)
	payload, err := client.ResolveScene(ctx, scanned)
	if err != nil {
		panic(err)
	}
	fmt.Println("page:", page)
	fmt.Println(payload.Kind, payload.Data)
	// Output:
	// scene: 10 characters, the same again: true
	// page: pages/store/door
	// place {"store":"st_0042","spot":"door","lat":31.2304,"lng":121.4737}
}

// A gift card sent by SMS opens the Mini Program from outside WeChat
// through a URL link living seven days.
func ExampleClient_URLLink() {
	plat, err := wechattest.NewPlatform(wechattest.Options{})
	if err != nil {
		panic(err)
	}
	defer plat.Close()
	plat.AddPage("pages/gift/open")
	client, err := wechat.New(plat.Config(memory.New()))
	if err != nil {
		panic(err)
	}
	link, err := client.URLLink(context.Background(), wechat.LinkParams{Path: "pages/gift/open", Query: "card=g_77", ExpireDays: 7})
	if err != nil {
		panic(err)
	}
	path, query, _ := plat.OpenLink(link)
	fmt.Println(link[:len("https://wxaurl.cn/")], path, query)
	// Output:
	// https://wxaurl.cn/ pages/gift/open card=g_77
}
