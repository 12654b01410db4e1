// The console works without this file; it only adds the warning before the idle timeout (with a
// button that keeps the session open), moves focus to a form's error summary, and adds the Copy
// buttons of a secret shown once (which stays selectable in its read-only input without it).
'use strict';

(function () {
  var WARN_BEFORE_MS = 2 * 60 * 1000;
  var body = document.body;
  var warning = document.getElementById('session-warning');
  var timer;

  function schedule(endsAt) {
    if (!warning || !endsAt) return;
    window.clearTimeout(timer);
    var ends = Date.parse(endsAt);
    var tick = function () {
      var left = ends - Date.now();
      if (left <= 0) {
        window.location.assign(
          '/console/sign-in?notice=expired&next=' + encodeURIComponent(location.pathname + location.search),
        );
        return;
      }
      if (left <= WARN_BEFORE_MS) {
        var seconds = Math.ceil(left / 1000);
        warning.querySelector('[data-countdown]').textContent =
          seconds > 60 ? Math.ceil(seconds / 60) + ' minutes' : seconds + ' seconds';
        warning.hidden = false;
      }
      timer = window.setTimeout(tick, left <= WARN_BEFORE_MS ? 1000 : left - WARN_BEFORE_MS);
    };
    tick();
  }

  if (warning) {
    var button = warning.querySelector('[data-keep-alive]');
    button.addEventListener('click', function () {
      fetch('/console/session', { credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then(function (response) {
          if (!response.ok) throw new Error('session ended');
          return response.json();
        })
        .then(function (session) {
          warning.hidden = true;
          schedule(session.endsAt);
        })
        .catch(function () {
          window.location.assign('/console/sign-in?notice=expired');
        });
    });
  }
  schedule(body.getAttribute('data-session-ends-at'));

  var summary = document.querySelector('[data-focus-on-load]');
  if (summary) summary.focus();

  // A Copy button names its input in data-copy-target and its live region in data-copy-status.
  var copyButtons = document.querySelectorAll('[data-copy-target]');
  Array.prototype.forEach.call(copyButtons, function (copyButton) {
    var target = document.getElementById(copyButton.getAttribute('data-copy-target'));
    var status = document.getElementById(copyButton.getAttribute('data-copy-status'));
    if (!target) return;
    var say = function (message) {
      if (!status) return;
      // Emptied first, so that a second copy is announced again.
      status.textContent = '';
      window.setTimeout(function () {
        status.textContent = message;
      }, 50);
    };
    var selectIt = function () {
      target.focus();
      if (typeof target.select === 'function') target.select();
    };
    copyButton.hidden = false;
    copyButton.addEventListener('click', function () {
      var value = typeof target.value === 'string' ? target.value : target.textContent;
      if (!window.navigator.clipboard || typeof window.navigator.clipboard.writeText !== 'function') {
        selectIt();
        say('This browser cannot copy from the page: the text is selected, copy it with your keyboard.');
        return;
      }
      window.navigator.clipboard.writeText(value).then(
        function () {
          say('Copied to the clipboard.');
        },
        function () {
          selectIt();
          say('Could not copy: the text is selected, copy it with your keyboard.');
        },
      );
    });
  });
})();
