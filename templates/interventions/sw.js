// Stride's service worker: shows Web Push messages and opens their (tracked) link.
// Served from /me/sw.js so that its scope is the student pages.
"use strict";

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { title: "Stride", body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "Stride", {
      body: data.body || "",
      tag: data.tag || undefined,
      data: { url: data.url || "/me/" },
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/me/";
  event.waitUntil(self.clients.openWindow(url));
});
