// Sign-in: hand Telegram's signed Mini App data to the server, which checks it. Nothing else runs
// on the console's pages.
(function () {
  "use strict";
  var form = document.getElementById("signin");
  var app = window.Telegram && window.Telegram.WebApp;
  if (!form || !app || !app.initData) {
    return;
  }
  app.ready();
  if (document.getElementById("signin-message")) {
    return; // a refused sign-in says why; reopening the console from Telegram tries again
  }
  document.getElementById("init_data").value = app.initData;
  form.submit();
})();
