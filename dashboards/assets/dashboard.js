// Draws every figure of a page from the JSON embedded in it, makes tables sortable and the
// county list searchable. Nothing here reaches the network: the mode bar's upload button is
// removed and plotly.js speaks Chinese through its own zh-CN locale, shipped beside it.
(function () {
  var config = {
    locale: 'zh-CN', displaylogo: false, responsive: true,
    modeBarButtonsToRemove: ['sendChartToCloud', 'sendDataToCloud', 'editInChartStudio', 'toImage2',
                             'lasso2d', 'select2d', 'toggleSpikelines'],
    toImageButtonOptions: {format: 'png', scale: 2}
  };
  document.querySelectorAll('script.figure[type="application/json"]').forEach(function (node) {
    var fig = JSON.parse(node.textContent);
    Plotly.newPlot(node.dataset.target, fig.data, fig.layout, config);
  });
  document.querySelectorAll('table.sortable th').forEach(function (th) {
    th.addEventListener('click', function () {
      // the column within its own table (a page has several tables)
      var index = th.cellIndex, table = th.closest('table'), body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = th.dataset.order !== 'asc';
      rows.sort(function (a, b) {
        var x = a.cells[index].dataset.v || a.cells[index].textContent;
        var y = b.cells[index].dataset.v || b.cells[index].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, 'zh-CN');
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      table.querySelectorAll('th').forEach(function (h) { delete h.dataset.order; });
      th.dataset.order = asc ? 'asc' : 'desc';
    });
  });
  var search = document.getElementById('search');
  if (search) {
    search.addEventListener('input', function () {
      var q = search.value.trim();
      document.querySelectorAll('.province-group').forEach(function (group) {
        var shown = 0;
        group.querySelectorAll('a[data-search]').forEach(function (a) {
          var hit = !q || a.dataset.search.indexOf(q) >= 0;
          a.style.display = hit ? '' : 'none';
          shown += hit ? 1 : 0;
        });
        group.style.display = shown ? '' : 'none';
      });
    });
  }
})();
