// Copy buttons: a button with data-copy="text" puts that text on the clipboard and says so
// in the page's status line (#copy-status). The buttons stay hidden without JavaScript or
// without a clipboard (the values can still be selected by hand). The app's own file, so
// the console's CSP (script-src 'self') allows it; no inline script.
(function () {
  "use strict";
  var box = document.querySelector("[data-copied]");
  var status = document.getElementById("copy-status");
  if (!box) {
    return;
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function fallback(text) {
    // Older browsers and pages not served over HTTPS have no navigator.clipboard
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function copied(button) {
    var buttons = box.querySelectorAll("button.copy");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].classList.remove("done");
    }
    button.classList.add("done");
    var label = button.closest(".row").querySelector("dt");
    say((label ? label.textContent + ": " : "") + box.getAttribute("data-copied"));
  }

  function copy(button) {
    var text = button.getAttribute("data-copy");
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(
        function () { copied(button); },
        function () {
          if (fallback(text)) {
            copied(button);
          } else {
            say(box.getAttribute("data-copy-failed"));
          }
        }
      );
    } else if (fallback(text)) {
      copied(button);
    } else {
      say(box.getAttribute("data-copy-failed"));
    }
  }

  var buttons = box.querySelectorAll("button.copy");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function (ev) {
      copy(ev.currentTarget);
    });
  }
})();
