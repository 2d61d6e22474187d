package lint

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// checkStorage is SD009: on clouds that can encrypt volumes at rest, every
// PersistentVolumeClaim and volumeClaimTemplate uses a class that does, judged
// from a StorageClass the chart renders or the cloud's built-in classes.
func (c *cellRun) checkStorage() {
	cloud, ok := c.storage.Clouds[c.cell.Cloud]
	if !ok {
		return
	}
	classes := map[string]*storagev1.StorageClass{}
	for _, o := range c.objects {
		if sc, ok := o.typed.(*storagev1.StorageClass); ok {
			classes[sc.Name] = sc
		}
	}
	for _, o := range c.objects {
		if pvc, ok := o.typed.(*corev1.PersistentVolumeClaim); ok {
			c.checkClaim(o, "spec.storageClassName", "PersistentVolumeClaim", pvc.Spec.StorageClassName, cloud, classes)
		}
		if w, ok := workloadOf(o); ok {
			for i, t := range w.claims {
				c.checkClaim(o, fieldIndex("spec.volumeClaimTemplates", i)+".spec.storageClassName",
					fmt.Sprintf("volumeClaimTemplate %q", t.Name), t.Spec.StorageClassName, cloud, classes)
			}
		}
	}
}

// checkClaim judges one claim's storage class.
func (c *cellRun) checkClaim(o *object, field, what string, className *string, cloud cloudStorage, classes map[string]*storagev1.StorageClass) {
	name, how := "", ""
	switch {
	case className == nil:
		name, how = cloud.Default, fmt.Sprintf("the %s default class %q", c.cell.Cloud, cloud.Default)
	case *className == "":
		c.add(RuleEncryptedStorage, o, field, fmt.Sprintf("%s sets storageClassName: \"\" (a pre-provisioned volume), so encryption at rest cannot be confirmed on %s",
			what, c.cell.Cloud))
		return
	default:
		name, how = *className, fmt.Sprintf("storage class %q", *className)
	}
	if sc, ok := classes[name]; ok {
		if enc, why := c.storage.encrypts(sc.Provisioner, sc.Parameters); !enc {
			c.add(RuleEncryptedStorage, o, field, fmt.Sprintf("%s uses %s rendered by the chart, which is not encrypted on %s: %s",
				what, how, c.cell.Cloud, why))
		}
		return
	}
	if !cloud.builtinEncrypted(name) {
		c.add(RuleEncryptedStorage, o, field, fmt.Sprintf("%s uses %s, which is not a StorageClass of the chart nor a built-in class of %s known to encrypt at rest",
			what, how, c.cell.Cloud))
	}
}
