// regapp's only script of its own (issue 14). htmx answers an error (a stale page's CSRF
// token, an ended session, a server error, no network) by swapping nothing: without this
// the person presses a button and nothing happens. The words come from the page
// (data-request-* on <body>, from regapp/texts.py), so every text stays in one table.
(function () {
  "use strict";

  function lineFor(element) {
    var form = element.closest("form") || element;
    var line = form.querySelector(".request-error");
    if (!line) {
      line = document.createElement("div");
      line.className = "form-error request-error";
      line.setAttribute("role", "alert");
      form.insertBefore(line, form.firstChild);
    }
    return line;
  }

  function say(event, words) {
    var element = event.detail && event.detail.elt;
    if (element && element.isConnected) {
      lineFor(element).textContent = words;
    }
  }

  document.addEventListener("htmx:responseError", function (event) {
    var texts = document.body.dataset;
    var status = event.detail.xhr.status;
    say(event, status >= 500 ? texts.requestFailed : texts.requestStale);
  });
  document.addEventListener("htmx:sendError", function (event) {
    say(event, document.body.dataset.requestFailed);
  });
  // A send that failed: the form's fields were disabled while it went, and the button
  // the person pressed lost the focus to the page; it gets it back, to press again.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt.closest("form");
    var button = form && form.querySelector("[type=submit]");
    if (event.detail.failed && button && document.activeElement === document.body) {
      button.focus();
    }
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt.closest("form");
    var line = form && form.querySelector(".request-error");
    if (line) {
      line.remove();
    }
  });
})();

// «Новый код можно запросить через N с.»: count down, then enable the resend button. The
// number is the server's; the words around it stay as the page wrote them.
(function () {
  "use strict";

  function countDown(line) {
    if (line.dataset.counting) {
      return;
    }
    line.dataset.counting = "yes";
    var left = parseInt(line.dataset.countdown, 10);
    var button = line.closest("form").querySelector("[type=submit]");
    var timer = setInterval(function () {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        button.disabled = false;
        line.remove();
        return;
      }
      line.textContent = line.textContent.replace(/\d+(?= с\.?$)/, String(left));
    }, 1000);
  }

  function start() {
    document.querySelectorAll("[data-countdown]").forEach(countDown);
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:load", start);
})();
