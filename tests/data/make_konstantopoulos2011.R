# Reference for nested labels (tests/test_nested_labels.py): metafor's dat.konstantopoulos2011 (56 schools in
# 11 districts; school numbers repeat across districts) written to CSV, and rma.mv(yi, vi, random = ~ 1 |
# district/school) by REML and ML. Run: Rscript tests/data/make_konstantopoulos2011.R (from the repository root).
library(metafor)
dat <- dat.konstantopoulos2011
write.csv(dat[, c("district", "school", "study", "year", "yi", "vi")], "tests/data/konstantopoulos2011.csv",
          row.names = FALSE)
rows <- lapply(c("REML", "ML"), function(m) {
  fit <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dat, method = m)
  data.frame(method = m, mu = coef(fit)[[1]], se = fit$se, ci_lb = fit$ci.lb, ci_ub = fit$ci.ub,
             sigma2_district = fit$sigma2[1], sigma2_school = fit$sigma2[2], QE = fit$QE,
             metafor = as.character(packageVersion("metafor")))
})
write.csv(do.call(rbind, rows), "tests/data/metafor_konstantopoulos2011_reference.csv", row.names = FALSE)
