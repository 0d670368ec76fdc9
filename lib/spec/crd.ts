import { API_GROUP, API_VERSION, KIND, mcpServerMetadata, mcpServerSpec, mcpServerStatus, PLURAL } from './mcpserver';

export const CRD_NAME = `${PLURAL}.${API_GROUP}`;

/** The CustomResourceDefinition for MCPServer, derived from the one schema in ./mcpserver.ts. */
export function mcpServerCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'mcp-operator', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: KIND.toLowerCase(),
        shortNames: ['mcps'],
        categories: ['mcp'],
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          // Exactly the columns the seed shows: NAME IMAGE TAG REPLICAS READY PHASE AGE.
          additionalPrinterColumns: [
            { name: 'Image', type: 'string', jsonPath: '.spec.image' },
            { name: 'Tag', type: 'string', jsonPath: '.spec.tag' },
            { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
            { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'MCPServer runs a Model Context Protocol server as a Deployment behind a Service.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object', properties: mcpServerMetadata.openApi().properties },
                spec: mcpServerSpec.openApi(),
                status: mcpServerStatus.openApi(),
              },
            },
          },
        },
      ],
    },
  };
}
