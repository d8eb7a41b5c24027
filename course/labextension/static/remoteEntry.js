/*
 * @gpt2-course/open-feedback: a JupyterLab 4 plugin, written by hand.
 *
 * nbgrader's Assignment List shows "(view feedback)" beside a submission whose feedback has been
 * fetched; clicking it runs `filebrowser:go-to-path` with the feedback folder
 * (<assignment>/feedback/<timestamp>), which only moves the file browser there. This plugin
 * watches for that command and opens the feedback page(s) of the folder in JupyterLab's HTML
 * viewer (an iframe without scripts until the student trusts it; the grader sanitizes the page
 * anyway, grader/plugins/inert.py).
 *
 * Why by hand: the plugin needs no JupyterLab package (only `app`, which every plugin receives),
 * so it needs no bundler either. JupyterLab loads a "federated" extension by running this file,
 * then calls window._JUPYTERLAB[<name>].init(shareScope) and .get("./extension"), and reads the
 * plugins from the module's `default` (jupyterlab/dev_mode/bootstrap.js and index.js). The same
 * few lines a bundler would write, without a node_modules folder to build and keep up to date.
 */
(function () {
  "use strict";

  var NAME = "@gpt2-course/open-feedback";
  var FEEDBACK_FOLDER = /(^|\/)feedback\/[^/]+\/?$/;

  function openFeedback(app, folder) {
    folder = folder.replace(/\/+$/, "");
    return app.serviceManager.contents.get(folder, { content: true }).then(function (model) {
      var pages = (model.content || []).filter(function (item) {
        return item.type === "file" && /\.html$/i.test(item.name);
      });
      pages.forEach(function (page) {
        app.commands.execute("docmanager:open", { path: page.path, factory: "HTML Viewer" });
      });
    }).catch(function (error) {
      console.warn(NAME + ": cannot open the feedback in " + folder, error);
    });
  }

  var plugin = {
    id: NAME + ":plugin",
    description: "Opens the feedback page when the student clicks nbgrader's (view feedback).",
    autoStart: true,
    activate: function (app) {
      app.commands.commandExecuted.connect(function (_, executed) {
        var path = executed.args && executed.args.path;
        if (executed.id === "filebrowser:go-to-path" && typeof path === "string" && FEEDBACK_FOLDER.test(path)) {
          executed.result.then(function () { openFeedback(app, path); }, function () {});
        }
      });
    }
  };

  var registry = window._JUPYTERLAB = window._JUPYTERLAB || {};
  registry[NAME] = {
    init: function () { return Promise.resolve(); },
    get: function (module) {
      if (module !== "./extension") {
        return Promise.reject(new Error(NAME + " has no module " + module));
      }
      return Promise.resolve(function () { return { __esModule: true, default: [plugin] }; });
    }
  };
})();
