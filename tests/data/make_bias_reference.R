# Reference results for the small-study, selection-model and influence functions
# (bayesmeta.frequentist_methods: small_study, trimfill, selection, influence, gosh).
#
# Run from the repository root:   Rscript tests/data/make_bias_reference.R
# Made with R 4.2.2 and metafor 3.8-1 (Debian bookworm packages r-base-core, r-cran-metafor, r-cran-numderiv).
# Writes into tests/data/:
#   bias_data.csv              the effect sizes used (dataset, study, yi, vi, ni), from metafor's escalc() on the
#                              documented example data (metadat 1.2: dat.bcg, dat.egger2001, dat.hackshaw1998,
#                              dat.baskerville2012) and the bundled fibromyalgia and clbp sets (bayesmeta/datasets,
#                              from pimeta and Scholz, Plessen et al. 2024; see docs/pages/datasets.md)
#   metafor_bias_reference.csv long format: dataset, analysis, key, value (regtest, ranktest, trimfill,
#                              influence, cumul, baujat)
#   metafor_selmodel_reference.csv  the same format for selmodel() (written fit by fit: the slowest part)
#   metafor_gosh_reference.csv gosh() on clbp (k = 12, all 4095 subsets) for FE, DL and REML
suppressMessages(library(metafor))
options(digits = 17)
out <- "tests/data"

# ------------------------------------------------------------------ data
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg$ni <- with(dat.bcg, tpos + tneg + cpos + cneg)
egg <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.egger2001)
egg$ni <- with(dat.egger2001, n1i + n2i)
hack <- dat.hackshaw1998
bask <- dat.baskerville2012
bask$author <- make.unique(as.character(bask$author), sep = " #")
fib <- read.csv("bayesmeta/datasets/fibromyalgia_pain.csv")
clbp <- read.csv("bayesmeta/datasets/clbp_digital_pain.csv")
sets <- list(
  bcg = data.frame(study = paste(dat.bcg$author, dat.bcg$year), yi = c(bcg$yi), vi = bcg$vi, ni = bcg$ni),
  egger2001 = data.frame(study = paste(egg$study, egg$year), yi = c(egg$yi), vi = egg$vi, ni = egg$ni),
  hackshaw1998 = data.frame(study = paste(hack$author, hack$year, hack$study), yi = hack$yi, vi = hack$vi, ni = NA),
  baskerville2012 = data.frame(study = paste(bask$author, bask$year), yi = bask$smd, vi = bask$se^2, ni = NA),
  fibromyalgia = data.frame(study = as.character(fib$study), yi = fib$y, vi = fib$sigmak^2, ni = NA),
  clbp = data.frame(study = clbp$study, yi = clbp$g, vi = clbp$se_g^2, ni = clbp$n_t + clbp$n_c))
alldat <- do.call(rbind, lapply(names(sets), function(n) cbind(dataset = n, sets[[n]])))
write.csv(alldat, file.path(out, "bias_data.csv"), row.names = FALSE)

rows <- list()
add <- function(dataset, analysis, values) {
  values <- unlist(values)
  rows[[length(rows) + 1]] <<- data.frame(dataset = dataset, analysis = analysis, key = names(values),
                                          value = format(unname(values), digits = 17))
}

# ------------------------------------------------------------------ regtest, ranktest
for (d in names(sets)) {
  s <- sets[[d]]
  for (method in c("REML", "FE", "DL")) {
    res <- if (all(!is.na(s$ni))) rma(yi, vi, ni = ni, data = s, method = method) else rma(yi, vi, data = s, method = method)
    preds <- if (all(!is.na(s$ni))) c("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv") else c("sei", "vi")
    for (model in c("rma", "lm")) for (pr in preds) {
      if (model == "lm" && method != "REML") next
      r <- regtest(res, model = model, predictor = pr)
      v <- list(statistic = r$zval, pvalue = r$pval, df = if (is.null(r$dfs)) NA else r$dfs)
      if (!is.null(r$est)) v <- c(v, limit_estimate = r$est, limit_lower = r$ci.lb, limit_upper = r$ci.ub)
      add(d, paste("regtest", model, pr, method, sep = ":"), v)
    }
  }
  res <- rma(yi, vi, data = s, method = "REML")
  r <- regtest(res, test = "knha")
  add(d, "regtest:rma:sei:REML:knha", list(statistic = r$zval, pvalue = r$pval, df = r$dfs,
      limit_estimate = r$est, limit_lower = r$ci.lb, limit_upper = r$ci.ub))
  r <- ranktest(res)
  add(d, "ranktest", list(tau = r$tau, pvalue = r$pval))
}

# ------------------------------------------------------------------ trimfill
for (d in names(sets)) for (method in c("REML", "FE", "DL")) for (est in c("L0", "R0")) {
  s <- sets[[d]]
  res <- rma(yi, vi, data = s, method = method)
  for (side in c("auto", "left", "right")) {
    tf <- if (side == "auto") trimfill(res, estimator = est) else trimfill(res, estimator = est, side = side)
    v <- list(k0 = tf$k0, k0_se = tf$se.k0, side = ifelse(tf$side == "left", -1, 1), mu = c(tf$beta), se = tf$se,
              lower = tf$ci.lb, upper = tf$ci.ub, tau2 = tf$tau2, pvalue = tf$pval, p_k0 = tf$p.k0)
    if (tf$k0 > 0) {
      v$filled_y <- tf$yi[tf$fill]
      v$filled_v <- tf$vi[tf$fill]
    }
    add(d, paste("trimfill", est, method, side, sep = ":"), v)
  }
}

# ------------------------------------------------------------------ influence, cumul, baujat
for (d in c("bcg", "fibromyalgia", "egger2001")) for (method in c("REML", "DL", "FE")) {
  s <- sets[[d]]
  res <- rma(yi, vi, data = s, method = method)
  inf <- influence(res)
  tab <- as.data.frame(inf$inf)
  v <- list(rstudent = tab$rstudent, dffits = tab$dffits, cook_d = tab$cook.d, cov_r = tab$cov.r,
            tau2_del = tab$tau2.del, QE_del = tab$QE.del, hat = tab$hat, weight = tab$weight,
            dfbetas = inf$dfbs$intrcpt, influential = as.numeric(inf$is.infl))
  add(d, paste("influence", method, sep = ":"), v)
  cu <- cumul(res)
  add(d, paste("cumul", method, sep = ":"), list(mu = cu$estimate, se = cu$se, statistic = cu$zval,
      pvalue = cu$pvals, lower = cu$ci.lb, upper = cu$ci.ub, Q = cu$Q, Q_pvalue = cu$Qp,
      tau2 = if (method == "FE") rep(0, length(cu$Q)) else cu$tau2, I2 = cu$I2, H2 = cu$H2))
  pdf(NULL)
  b <- baujat(res)
  dev.off()
  add(d, paste("baujat", method, sep = ":"), list(x = b$x, y = b$y))
}
res <- rma(yi, vi, data = sets$bcg, method = "REML")
cu <- cumul(res, order = dat.bcg$year)
add("bcg", "cumul:REML:year", list(mu = cu$estimate, se = cu$se, lower = cu$ci.lb, upper = cu$ci.ub, tau2 = cu$tau2,
    I2 = cu$I2, order = match(cu$slab, res$slab)))

ref <- do.call(rbind, rows)
write.csv(ref, file.path(out, "metafor_bias_reference.csv"), row.names = FALSE)

# ------------------------------------------------------------------ gosh (all subsets of clbp)
g_all <- list()
for (method in c("FE", "DL", "REML")) {
  res <- rma(yi, vi, data = sets$clbp, method = method)
  g <- gosh(res, progbar = FALSE)
  subset <- apply(g$incl, 1, function(r) paste(as.integer(r), collapse = ""))
  g_all[[method]] <- data.frame(method = method, subset = subset, k = g$res$k, mu = g$res$estimate,
                                tau2 = g$res$tau2, I2 = g$res$I2, H2 = g$res$H2, Q = g$res$QE)
}
write.csv(do.call(rbind, g_all), file.path(out, "metafor_gosh_reference.csv"), row.names = FALSE)
# ------------------------------------------------------------------ selmodel (own file, one row block per fit)
# Defaults first (metafor's own optimiser settings), then tight settings (BFGS reltol 1e-12, integrals at rel.tol
# 1e-9) for the continuous types but beta on hackshaw1998 and baskerville2012 and every stepfun fit.
selfile <- file.path(out, "metafor_selmodel_reference.csv")
if (file.exists(selfile)) file.remove(selfile)
steps_sets <- list(stepfun = c(0.025, 0.10, 0.50, 1), stepfun2 = c(0.05, 1))
types <- c("stepfun", "stepfun2", "beta", "halfnorm", "negexp", "logistic", "power")
for (tight in c(FALSE, TRUE)) for (d in c("hackshaw1998", "baskerville2012", "fibromyalgia")) for (type in types) {
  if (tight && (type == "beta" || (d == "fibromyalgia" && is.null(steps_sets[[type]])))) next  # beta: R's
  # integrate() at rel.tol 1e-9 fails (hackshaw1998) or runs for more than 15 minutes (baskerville2012)
  s <- sets[[d]]
  res <- rma(yi, vi, data = s, method = "ML")
  ctrl <- if (tight) list(reltol = 1e-12, maxit = 5000, intCtrl = list(rel.tol = 1e-9)) else list()
  steps <- steps_sets[[type]]
  sel <- tryCatch(suppressWarnings(
    if (is.null(steps)) selmodel(res, type = type, control = ctrl)
    else selmodel(res, type = "stepfun", steps = steps, control = ctrl)), error = function(e) NULL)
  if (is.null(sel)) next
  rows <- list()
  add(d, paste("selmodel", type, ifelse(tight, "tight", "default"), sep = ":"), list(
      mu = c(sel$beta), se = sel$se, lower = sel$ci.lb, upper = sel$ci.ub, pvalue = sel$pval,
      tau2 = sel$tau2, tau2_se = sel$se.tau2, LRT = sel$LRT, LRT_df = sel$LRTdf, LRT_pvalue = sel$LRTp,
      loglik = sel$ll, LRT_tau2 = sel$LRT.tau2, LRT_tau2_pvalue = sel$LRTp.tau2,
      delta = sel$delta, delta_se = sel$se.delta, delta_pvalue = sel$pval.delta))
  write.table(rows[[1]], selfile, sep = ",", row.names = FALSE, col.names = !file.exists(selfile),
              append = file.exists(selfile), qmethod = "double")
}
cat("metafor", as.character(packageVersion("metafor")), "\n")
