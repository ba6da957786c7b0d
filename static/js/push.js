// The message settings page's Web Push switch: registers the service worker, subscribes
// this browser with the server's VAPID key and hands the subscription to Stride (and the
// reverse). In a file of its own: the Content-Security-Policy runs only our own scripts.
(function () {
  "use strict";
  var box = document.getElementById("push");
  if (!box || !box.dataset.pushKey) return;
  var status = box.querySelector("[data-push-status]");
  var onButton = box.querySelector("[data-push-on]");
  var offButton = box.querySelector("[data-push-off]");

  function say(text) { status.textContent = text; }
  function show(subscribed) {
    onButton.hidden = subscribed;
    offButton.hidden = !subscribed;
    say(subscribed ? "Notifications are on for this browser." : "Notifications are off for this browser.");
  }
  function csrf() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (answer) {
          throw new Error((answer && answer.detail) || "Stride refused the subscription.");
        });
      }
      return response.json();
    });
  }
  function key() {
    var text = box.dataset.pushKey.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(text + "===".slice((text.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    say("This browser cannot show notifications from websites.");
    return;
  }
  var ready = navigator.serviceWorker.register(box.dataset.workerUrl).then(function () {
    return navigator.serviceWorker.ready;
  });
  ready
    .then(function (registration) { return registration.pushManager.getSubscription(); })
    .then(function (subscription) { show(Boolean(subscription)); })
    .catch(function (error) { say("Notifications are unavailable here: " + error.message); });

  onButton.addEventListener("click", function () {
    onButton.disabled = true;
    say("Asking this browser…");
    ready
      .then(function (registration) {
        return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key() });
      })
      .then(function (subscription) { return post(box.dataset.subscribeUrl, subscription.toJSON()); })
      .then(function () { show(true); })
      .catch(function (error) {
        say(Notification.permission === "denied"
          ? "Notifications are blocked for this site in the browser's settings."
          : "Could not turn notifications on: " + error.message);
      })
      .finally(function () { onButton.disabled = false; });
  });

  offButton.addEventListener("click", function () {
    offButton.disabled = true;
    ready
      .then(function (registration) { return registration.pushManager.getSubscription(); })
      .then(function (subscription) {
        if (!subscription) return null;
        var endpoint = subscription.endpoint;
        return subscription.unsubscribe().then(function () {
          return post(box.dataset.removeUrl, { endpoint: endpoint });
        });
      })
      .then(function () { show(false); })
      .catch(function (error) { say("Could not turn notifications off: " + error.message); })
      .finally(function () { offButton.disabled = false; });
  });
})();
