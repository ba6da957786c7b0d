/* The lesson player: hls.js (or native HLS), quality and speed, resume, keyboard shortcuts,
   fullscreen, captions, preview thumbnails, and heartbeats for watch analytics. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("player-config").textContent);
  var root = document.getElementById("player");
  var video = document.getElementById("video");
  var play = document.getElementById("play");
  var seek = document.getElementById("seek");
  var time = document.getElementById("time");
  var quality = document.getElementById("quality");
  var speed = document.getElementById("speed");
  var cc = document.getElementById("cc");
  var preview = document.getElementById("preview");
  var hls = null;

  // CloudFront mode: one signed query covers the video's folder; playlists name their files
  // relatively and a browser does not carry the query over, so it is added to each request.
  function cdnSigned(url) {
    if (!config.signedQuery || url.indexOf(config.signedFolder) !== 0 || /[?&]Signature=/.test(url)) return url;
    return url + (url.indexOf("?") < 0 ? "?" : "&") + config.signedQuery;
  }

  // --- Source: hls.js through Media Source Extensions, else the browser's own HLS. ---------
  if (window.Hls && window.Hls.isSupported()) {
    hls = new window.Hls({ capLevelToPlayerSize: false, xhrSetup: function (xhr, url) {
      var signed = cdnSigned(url);
      if (signed !== url) xhr.open("GET", signed, true); // a CloudFront playlist's relative file
      else xhr.withCredentials = true; // Stride's own session-bound URLs
    } });
    hls.loadSource(config.src);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.LEVEL_SWITCHED, function () { root.dataset.level = renditionName(); });
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = config.src;
    quality.disabled = true; // Safari picks the rendition itself
  }

  function levelIndex(name) {
    if (!hls || name === "auto") return -1;
    var want = parseInt(name, 10), best = -1, gap = Infinity;
    hls.levels.forEach(function (level, i) {
      var d = Math.abs(level.height - want);
      if (d < gap) { gap = d; best = i; }
    });
    return best;
  }
  function renditionName() {
    if (!hls || hls.currentLevel < 0 || !hls.levels[hls.currentLevel]) return "";
    var height = hls.levels[hls.currentLevel].height, best = "", gap = Infinity;
    config.renditions.forEach(function (name) {
      var d = Math.abs(parseInt(name, 10) - height);
      if (d < gap) { gap = d; best = name; }
    });
    return best;
  }

  // --- Heartbeats --------------------------------------------------------------------------
  // The page's heartbeat token names this view (the page load); it is the only credential.
  var seq = 0, from = null, last = 0, sent = 0;
  var device = /iPad|Tablet/i.test(navigator.userAgent) ? "tablet"
    : (/Mobi|Android/i.test(navigator.userAgent) ? "mobile" : "desktop");

  function send(kind) {
    var body = {
      seq: seq++, kind: kind, start: from === null ? last : from,
      end: from === null ? last : Math.max(from, last), position: video.currentTime || 0,
      speed: video.playbackRate, rendition: renditionName(), device: device
    };
    from = video.paused || video.ended ? null : video.currentTime;
    return fetch(config.heartbeat, {
      method: "POST", credentials: "omit", keepalive: true,
      headers: { "Content-Type": "application/json", "X-Heartbeat-Token": config.heartbeatToken },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) { sent++; root.dataset.heartbeats = String(sent); root.dataset.lastHeartbeat = kind; }
    }).catch(function () {});
  }
  video.addEventListener("playing", function () { from = video.currentTime; last = video.currentTime; });
  video.addEventListener("timeupdate", function () {
    if (!video.seeking && !video.paused) last = video.currentTime;
    seek.value = video.currentTime;
    time.textContent = clock(video.currentTime) + " / " + clock(video.duration || config.duration || 0);
  });
  video.addEventListener("pause", function () { if (!video.ended) send("pause"); });
  video.addEventListener("ended", function () { last = video.duration; send("ended"); });
  video.addEventListener("seeking", function () {
    if (from !== null) { send("seek"); }
    from = null; last = video.currentTime;
  });
  video.addEventListener("seeked", function () { if (!video.paused) from = video.currentTime; last = video.currentTime; });
  setInterval(function () { if (from !== null && !video.paused) send("tick"); }, (config.interval || 10) * 1000);
  window.addEventListener("pagehide", function () { if (from !== null) send("pause"); });

  // --- Controls ------------------------------------------------------------------------------
  function clock(s) {
    s = Math.max(0, Math.floor(s || 0));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function toggle() { if (video.paused) video.play(); else video.pause(); }
  play.addEventListener("click", toggle);
  video.addEventListener("click", toggle);
  video.addEventListener("play", function () { play.textContent = "❚❚"; play.setAttribute("aria-label", "Pause"); });
  video.addEventListener("pause", function () { play.textContent = "▶"; play.setAttribute("aria-label", "Play"); });
  seek.addEventListener("input", function () { video.currentTime = parseFloat(seek.value); });
  quality.addEventListener("change", function () {
    if (!hls) return;
    if (from !== null) send("quality");
    hls.currentLevel = levelIndex(quality.value); // -1: automatic
    root.dataset.quality = quality.value;
  });
  speed.addEventListener("change", function () {
    if (from !== null) send("speed");
    video.playbackRate = parseFloat(speed.value);
    root.dataset.speed = speed.value;
  });
  function setSpeed(delta) {
    var options = Array.prototype.map.call(speed.options, function (o) { return o.value; });
    var i = Math.min(options.length - 1, Math.max(0, options.indexOf(speed.value) + delta));
    speed.value = options[i];
    speed.dispatchEvent(new Event("change"));
  }
  function fullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (root.requestFullscreen) root.requestFullscreen();
    else if (video.webkitEnterFullscreen) video.webkitEnterFullscreen(); // iPhone
  }
  document.getElementById("fullscreen").addEventListener("click", fullscreen);
  function captions() {
    var track = video.textTracks[0];
    if (!track || !cc) return;
    track.mode = track.mode === "showing" ? "hidden" : "showing";
    cc.setAttribute("aria-pressed", String(track.mode === "showing"));
  }
  if (cc) cc.addEventListener("click", captions);
  if (video.textTracks[0]) video.textTracks[0].mode = "hidden";

  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" && event.target !== seek || tag === "select" || tag === "textarea") return;
    var handled = true;
    switch (event.key) {
      case " ": case "k": toggle(); break;
      case "ArrowLeft": video.currentTime = Math.max(0, video.currentTime - 5); break;
      case "ArrowRight": video.currentTime = Math.min(video.duration, video.currentTime + 5); break;
      case "j": video.currentTime = Math.max(0, video.currentTime - 10); break;
      case "l": video.currentTime = Math.min(video.duration, video.currentTime + 10); break;
      case "ArrowUp": video.volume = Math.min(1, video.volume + 0.1); break;
      case "ArrowDown": video.volume = Math.max(0, video.volume - 0.1); break;
      case "m": video.muted = !video.muted; break;
      case "f": fullscreen(); break;
      case "c": captions(); break;
      case ">": setSpeed(1); break;
      case "<": setSpeed(-1); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  // --- Resume where the learner stopped -------------------------------------------------------
  video.addEventListener("loadedmetadata", function () {
    seek.max = video.duration;
    if (config.resume > 1 && config.resume < video.duration - 3) {
      video.currentTime = config.resume;
      last = config.resume;
    }
    root.dataset.ready = "true";
  }, { once: true });

  // --- Preview thumbnails on the seek bar (WebVTT sprite) ----------------------------------------
  var cues = [];
  if (config.thumbnails) {
    fetch(config.thumbnails, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (text) {
        var base = new URL(config.thumbnails, location.href);
        text.split(/\n\n+/).forEach(function (block) {
          var m = block.match(/([\d:.]+) --> ([\d:.]+)\s+(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)/);
          if (!m) return;
          cues.push({ start: seconds(m[1]), end: seconds(m[2]), url: cdnSigned(new URL(m[3], base).href),
                      x: +m[4], y: +m[5], w: +m[6], h: +m[7] });
        });
        root.dataset.thumbnails = String(cues.length);
      });
  }
  function seconds(stamp) {
    return stamp.split(":").reduce(function (total, part) { return total * 60 + parseFloat(part); }, 0);
  }
  function showPreview(clientX) {
    if (!cues.length) return;
    var box = seek.getBoundingClientRect();
    var share = Math.min(1, Math.max(0, (clientX - box.left) / box.width));
    var at = share * (video.duration || config.duration || 0);
    var cue = cues.find(function (c) { return at >= c.start && at < c.end; }) || cues[cues.length - 1];
    var image = preview.firstElementChild;
    image.style.backgroundImage = "url('" + cue.url + "')";
    image.style.backgroundPosition = "-" + cue.x + "px -" + cue.y + "px";
    preview.lastElementChild.textContent = clock(at);
    preview.style.left = (clientX - root.getBoundingClientRect().left) + "px";
    preview.hidden = false;
  }
  seek.addEventListener("mousemove", function (e) { showPreview(e.clientX); });
  seek.addEventListener("touchmove", function (e) { showPreview(e.touches[0].clientX); }, { passive: true });
  seek.addEventListener("mouseleave", function () { preview.hidden = true; });
  seek.addEventListener("touchend", function () { preview.hidden = true; });

  window.stridePlayer = { video: video, hls: hls, send: send };
})();
