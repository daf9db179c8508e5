/*
 * Live SMS counter for the django-smsrest add form.
 *
 * Same rules as django_smsrest/segments.py (3GPP TS 23.038): GSM-7 when every character is
 * in the basic or extension table (extension characters cost 2 septets), otherwise UCS-2
 * (characters outside the BMP cost 2 units). One SMS holds 160/70 units; each part of a
 * longer message 153/67, and a 2-unit character is never split across parts.
 * A convenience while typing: the numbers the server shows after "Preview" are the truth.
 */
(function () {
  "use strict";

  var BASIC =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "\f^{}\\[~]|€";
  var SIZES = { gsm: [160, 153], ucs2: [70, 67] };

  // The admin loads Django's JavaScript catalog (admin:jsi18n, plus this app's djangojs
  // catalog from the SmsMessage admin); outside the admin the text stays in English.
  function ngettext(singular, plural, n) {
    if (typeof window.ngettext === "function") { return window.ngettext(singular, plural, n); }
    return n === 1 ? singular : plural;
  }
  function format(fmt, values) {
    return fmt.replace(/%\((\w+)\)s/g, function (match, name) { return String(values[name]); });
  }

  function costs(text) {
    var chars = Array.from(text); // code points, so an emoji is one entry
    var gsm = chars.every(function (ch) {
      return BASIC.indexOf(ch) >= 0 || EXTENSION.indexOf(ch) >= 0;
    });
    var list = chars.map(function (ch) {
      if (gsm) { return EXTENSION.indexOf(ch) >= 0 ? 2 : 1; }
      return ch.codePointAt(0) > 0xffff ? 2 : 1;
    });
    return { encoding: gsm ? "gsm" : "ucs2", costs: list, characters: chars.length };
  }

  function count(text) {
    var c = costs(text.replace(/\r\n/g, "\n"));
    var size = SIZES[c.encoding];
    var units = c.costs.reduce(function (a, b) { return a + b; }, 0);
    if (units <= size[0]) {
      return { encoding: c.encoding, characters: c.characters, units: units,
               segments: units ? 1 : 0, remaining: size[0] - units };
    }
    var parts = 0, used = 0;
    c.costs.forEach(function (cost) {
      if (used + cost > size[1]) { parts += 1; used = 0; }
      used += cost;
    });
    if (used) { parts += 1; }
    return { encoding: c.encoding, characters: c.characters, units: units,
             segments: parts, remaining: size[1] - used };
  }

  function recipients(text) {
    return text.split(/[,;\r\n]+/).filter(function (s) { return s.trim() !== ""; }).length;
  }

  function init() {
    var message = document.querySelector("textarea[data-smsrest-counter]");
    var out = document.getElementById("smsrest-live-counter");
    if (!message || !out) { return; }
    var rcpt = document.getElementById("id_recipients");
    var maxSegments = parseInt(message.getAttribute("data-smsrest-max-segments") || "7", 10);
    function update() {
      var r = count(message.value);
      var n = rcpt ? recipients(rcpt.value) : 0;
      var enc = r.encoding === "gsm" ? "GSM-7" : "UCS-2 (Unicode)";
      // One count per message, each with its plural forms (Italian has no "(s)").
      var values = { characters: r.characters, segments: r.segments, remaining: r.remaining,
                     credits: r.segments * n, numbers: n };
      var parts = [
        ngettext("%(characters)s character", "%(characters)s characters", r.characters),
        enc,
        ngettext("%(segments)s segment, %(remaining)s left in this one",
                 "%(segments)s segments, %(remaining)s left in this one", r.segments)
      ];
      if (n) {
        parts.push(
          ngettext("about %(credits)s credit", "about %(credits)s credits", r.segments * n) +
          " " + ngettext("for %(numbers)s number", "for %(numbers)s numbers", n));
      }
      var text = parts.map(function (part) { return format(part, values); }).join(" · ");
      out.textContent = text;
      out.classList.toggle("smsrest-over", r.segments > maxSegments);
    }
    message.addEventListener("input", update);
    if (rcpt) { rcpt.addEventListener("input", update); }
    update();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
